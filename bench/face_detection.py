"""Seconds per photo of the insightface backend on scikit-image's astronaut photo.

The pack is the real SCRFD detector (``PHOTOD_TEST_SCRFD_ONNX`` or
``.cache/test-models/scrfd.onnx``, provisioned by scripts/test.sh) and an ArcFace-shaped
recogniser with random weights (tiny: the figure is detection, decoding and alignment). Run:

    .venv/bin/python bench/face_detection.py [--runs 30] [--det-size 640]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))


def main() -> None:
    """Print the median, min and max milliseconds of one ``detect()`` call on CPU."""
    from concept_fixtures import source_image
    from insightface_pack import write_test_pack

    from photod.config import InsightfaceConfig
    from photod.faces.insightface_backend import InsightfaceBackend

    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--det-size", type=int, default=640)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        pack = write_test_pack(Path(tmp) / "pack")
        cfg = InsightfaceConfig(
            pack_dir=pack, det_size=args.det_size, providers=["CPUExecutionProvider"]
        )
        backend = InsightfaceBackend(cfg, Path(tmp))
        photo = source_image("astronaut")
        t0 = time.perf_counter()
        [faces] = backend.detect([photo])  # loads the models
        load = time.perf_counter() - t0
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            backend.detect([photo])
            times.append((time.perf_counter() - t0) * 1000)
    print(f"faces found: {len(faces)}; first call (load + detect): {load * 1000:.0f} ms")
    print(
        f"detect() on the 512x512 astronaut, det_size {args.det_size}, {args.runs} runs: "
        f"median {statistics.median(times):.1f} ms, min {min(times):.1f}, max {max(times):.1f}"
    )


if __name__ == "__main__":
    main()
