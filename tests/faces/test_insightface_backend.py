"""The insightface backend without its (non-commercial, hub-only) pack: clear failure, and the
numpy SCRFD decoding and ArcFace alignment checked on constructed inputs."""

from __future__ import annotations

import numpy as np
import pytest

from photod.config import FacesConfig
from photod.errors import ModelLoadError
from photod.faces import create_face_backend
from photod.faces.scrfd import ARCFACE_TEMPLATE, decode_scrfd, similarity_transform
from photod.pipeline.task import Face  # noqa: F401  (the type detect() returns)


def test_missing_pack_says_how_to_get_it_or_switch(tmp_path):
    backend = create_face_backend(FacesConfig(backend="insightface"), tmp_path)
    assert backend.metric == "cosine" and backend.model_id == "insightface-buffalo_l"
    from PIL import Image

    with pytest.raises(ModelLoadError) as err:
        backend.detect([Image.new("RGB", (64, 64))])
    msg = str(err.value)
    assert "buffalo_l" in msg and str(tmp_path / "models" / "insightface") in msg
    assert "backend: dlib" in msg and "non-commercial" in msg


def _outputs(size: int, stride_hit: int, cell: tuple[int, int], dist: float) -> list[np.ndarray]:
    outs_s, outs_b, outs_k = [], [], []
    for stride in (8, 16, 32):
        n = (size // stride) ** 2 * 2
        scores = np.zeros((n, 1), np.float32)
        boxes = np.zeros((n, 4), np.float32)
        kps = np.zeros((n, 10), np.float32)
        if stride == stride_hit:
            row, col = cell
            i = (row * (size // stride) + col) * 2
            scores[i] = 0.9
            boxes[i] = dist / stride
            kps[i] = np.tile([-1.0, -1.0], 5) / stride * 5
        outs_s.append(scores), outs_b.append(boxes), outs_k.append(kps)
    return outs_s + outs_b + outs_k


def test_scrfd_decoding_puts_the_box_around_its_anchor():
    outs = _outputs(640, 16, (10, 20), 24.0)  # anchor centre (320, 160)
    boxes, kps = decode_scrfd(outs, 640, scale=0.5, threshold=0.5)
    assert len(boxes) == 1
    np.testing.assert_allclose(boxes[0][:4], np.array([296, 136, 344, 184]) / 0.5)
    np.testing.assert_allclose(kps[0][0], np.array([315, 155]) / 0.5)
    assert boxes[0][4] == pytest.approx(0.9)


def test_similarity_transform_recovers_a_known_map():
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = ARCFACE_TEMPLATE @ rot.T + shift
    m = similarity_transform(ARCFACE_TEMPLATE, dst)
    np.testing.assert_allclose(m[:2, :2], rot, atol=1e-6)
    np.testing.assert_allclose(m[:2, 2], shift, atol=1e-5)
