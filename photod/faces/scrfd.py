"""SCRFD output decoding and ArcFace alignment, in numpy (no OpenCV, no insightface package)."""

from __future__ import annotations

import numpy as np
from PIL import Image

# Where ArcFace expects the eyes, nose tip and mouth corners in its 112x112 input.
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)


def letterbox(arr: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio into the top-left of a ``size`` square; return scale."""
    h, w = arr.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    resized = np.asarray(Image.fromarray(arr).resize((nw, nh), Image.BILINEAR))
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    canvas[:nh, :nw] = resized
    return canvas, scale


def _nms(dets: np.ndarray, thresh: float) -> list[int]:
    x1, y1, x2, y2, scores = dets.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        xx1, yy1 = np.maximum(x1[i], x1[order[1:]]), np.maximum(y1[i], y1[order[1:]])
        xx2, yy2 = np.minimum(x2[i], x2[order[1:]]), np.minimum(y2[i], y2[order[1:]])
        inter = np.maximum(0.0, xx2 - xx1 + 1) * np.maximum(0.0, yy2 - yy1 + 1)
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[1:][ovr <= thresh]
    return keep


def decode_scrfd(
    outs: list[np.ndarray], size: int, scale: float, threshold: float, nms: float = 0.4
) -> tuple[np.ndarray, np.ndarray]:
    """SCRFD's per-stride scores, box distances and keypoint distances -> boxes, keypoints.

    Returns ``[n, 5]`` (x1, y1, x2, y2, score) and ``[n, 5, 2]`` in input-image pixels.
    """
    fmc = 3 if len(outs) in (6, 9) else 5
    strides = [8, 16, 32] if fmc == 3 else [8, 16, 32, 64, 128]
    anchors = 2 if fmc == 3 else 1
    all_boxes, all_kps = [], []
    for i, stride in enumerate(strides):
        # Exported models differ in whether they keep the batch axis.
        scores = outs[i].reshape(-1)
        dist = outs[i + fmc].reshape(-1, 4) * stride
        side = size // stride
        grid = np.stack(np.mgrid[:side, :side][::-1], axis=-1).astype(np.float32)
        centers = np.repeat((grid * stride).reshape(-1, 2), anchors, axis=0)
        pos = np.where(scores >= threshold)[0]
        if not len(pos):
            continue
        c, d = centers[pos], dist[pos]
        boxes = np.concatenate([c - d[:, :2], c + d[:, 2:]], axis=1)
        all_boxes.append(np.concatenate([boxes, scores[pos, None]], axis=1))
        if len(outs) > 2 * fmc:
            kd = outs[i + 2 * fmc].reshape(-1, 10)[pos] * stride
            all_kps.append(c[:, None, :] + kd.reshape(-1, 5, 2))
        else:
            all_kps.append(np.repeat(c[:, None, :], 5, axis=1))
    if not all_boxes:
        return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
    boxes, kps = np.concatenate(all_boxes), np.concatenate(all_kps)
    boxes[:, :4] /= scale
    kps /= scale
    keep = _nms(boxes, nms)
    return boxes[keep], kps[keep]


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama) mapping ``src`` points onto ``dst``; 3x3 matrix."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    s0, d0 = src - ms, dst - md
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    var = (s0**2).sum() / len(src)
    k = (sig * np.diag(sign)).sum() / var
    m = np.eye(3)
    m[:2, :2] = k * rot
    m[:2, 2] = md - k * rot @ ms
    return m
