"""The face backend interface and the distance arithmetic every person head shares.

A backend turns images into :class:`photod.pipeline.task.Face` objects: a normalised box,
a detector score, optional landmarks and an embedding. Embeddings of different backends live
in different spaces, so every face records ``model`` and only faces of the same model are ever
compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from photod.pipeline.task import Face

# Distance cut-offs at which two faces are the same person, per metric.
# ArcFace: the MyVLM reference accepts cosine distance <= 0.675 (similarity >= 0.325).
# dlib: its model is trained so that L2 < 0.6 means the same person (99.38% on LFW).
DEFAULT_THRESHOLDS = {"cosine": 0.675, "l2": 0.6}


@runtime_checkable
class FaceBackend(Protocol):
    """Detects faces and computes their embeddings."""

    #: Identifies the embedding space (stored with every face and every trained person head).
    model_id: str
    #: "l2" or "cosine": how two embeddings are compared.
    metric: str

    def detect(self, images: Sequence[Image.Image]) -> list[list[Face]]:
        """Faces of each image (RGB PIL images), embeddings included."""

    def close(self) -> None:
        """Free the models."""


def distances(metric: str, queries: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Pairwise distances ``[len(queries), len(keys)]`` under ``metric``."""
    q = np.asarray(queries, dtype=np.float32).reshape(len(queries), -1)
    k = np.asarray(keys, dtype=np.float32).reshape(len(keys), -1)
    if metric == "cosine":
        qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        kn = k / np.maximum(np.linalg.norm(k, axis=1, keepdims=True), 1e-12)
        return 1.0 - qn @ kn.T
    if metric == "l2":
        # |q-k|^2 = |q|^2 + |k|^2 - 2 q.k: one matrix product instead of a [n, m, d] tensor.
        sq = (q * q).sum(1)[:, None] + (k * k).sum(1)[None, :] - 2.0 * q @ k.T
        return np.sqrt(np.maximum(sq, 0.0))
    raise ValueError(f"unknown face metric {metric!r}")


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def to_rgb_array(image: Image.Image) -> np.ndarray:
    """A C-contiguous uint8 HxWx3 array (what dlib and onnxruntime want)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def normalise_box(left: float, top: float, right: float, bottom: float, w: int, h: int) -> tuple:
    """Pixel corners -> (x, y, w, h) in [0, 1], clipped to the image."""
    left, right = max(0.0, float(left)), min(float(w), float(right))
    top, bottom = max(0.0, float(top)), min(float(h), float(bottom))
    return (left / w, top / h, max(0.0, right - left) / w, max(0.0, bottom - top) / h)
