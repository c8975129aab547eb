"""The insightface backend without its (non-commercial, hub-only) pack: clear failure, the
onnxruntime provider choice, and the package imported only when the models load."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from photod.config import FacesConfig
from photod.errors import ModelLoadError
from photod.faces import create_face_backend
from photod.faces.insightface_backend import CPU, CUDA, choose_providers


def test_missing_pack_says_how_to_get_it_or_switch(tmp_path):
    backend = create_face_backend(FacesConfig(backend="insightface"), tmp_path)
    assert backend.metric == "cosine" and backend.model_id == "insightface-buffalo_l"

    with pytest.raises(ModelLoadError) as err:
        backend.detect([Image.new("RGB", (64, 64))])
    msg = str(err.value)
    assert "buffalo_l" in msg and str(tmp_path / "models" / "insightface") in msg
    assert "backend: dlib" in msg and "non-commercial" in msg


def test_missing_package_says_which_extra_to_install(tmp_path, monkeypatch):
    # The package is installed here; a None entry in sys.modules makes its import fail as
    # it does on an install without the extra.
    monkeypatch.setitem(sys.modules, "insightface.model_zoo", None)
    backend = create_face_backend(FacesConfig(backend="insightface"), tmp_path)
    with pytest.raises(ModelLoadError, match=r"photod\[insightface\]"):
        backend.detect([Image.new("RGB", (64, 64))])


def test_providers_default_to_cuda_then_cpu_and_fall_back_to_cpu():
    assert choose_providers([], [CPU]) == [CPU]  # onnxruntime (CPU) alone
    assert choose_providers([], [CUDA, CPU]) == [CUDA, CPU]  # the gpu extra
    assert choose_providers([CUDA], [CPU]) == [CPU]  # asked for CUDA, none present
    assert choose_providers(["OpenVINOExecutionProvider", CPU], [CPU]) == [CPU]


def test_the_daemon_without_the_backend_never_imports_insightface_or_opencv(tmp_path):
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from photod.config import FacesConfig\n"
        "from photod.faces import create_face_backend\n"
        f"create_face_backend(FacesConfig(backend='insightface'), Path({str(tmp_path)!r}))\n"
        "assert not {'insightface', 'cv2', 'onnxruntime'} & set(sys.modules), sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
