"""Throughput of `photod scan --on ray` against a local scan of the same photos, on this
machine: a one-node Ray cluster (all of this machine's CPUs, started and stopped here) with
1 and with 2 model workers.

Each run is a fresh `photod scan` process over the same photos (random JPEGs, every tenth
with two real faces, every tenth blurred) with the toy CLIP and toy BLIP-2 of the lab, the
default dlib face detector and the installed plugins. The figure compared is the steady rate:
photos committed per second from the first commit to the last (start-up, model loading and
the workers' start are reported apart, as "first commit after"). Run:

    .venv/bin/python bench/ray_scan.py [--photos 300] [--size 640x480] [--cpus N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _scan(tmp: Path, photos: Path, name: str, extra: str, on: list[str], n: int) -> dict:
    from tests.compute.cluster import worker_env
    from tests.compute.conftest import library_config
    from tests.compute.index_rows import photo_count

    config = library_config(tmp / name, photos, extra)
    cmd = [sys.executable, "-m", "photod", "--config", str(tmp / name / "config.yaml"), "scan"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*cmd, "--no-progress", *on], env=worker_env(), stdout=subprocess.PIPE, text=True
    )
    first = None
    while proc.poll() is None:
        count = photo_count(config.index_path)
        if count and first is None:
            first = (time.perf_counter() - t0, count)
        if count >= n:
            break
        time.sleep(0.05)
    last = time.perf_counter() - t0
    out, _ = proc.communicate()
    total = time.perf_counter() - t0
    assert proc.returncode == 0 and f"{n} indexed, 0 failed" in out, out
    rate = (n - first[1]) / (last - first[0]) if first and last > first[0] else float("nan")
    return {"name": name, "total": total, "first": first[0] if first else total, "rate": rate}


def main() -> None:
    """Print one Markdown table row per configuration."""
    from tests.compute.cluster import local_cluster
    from tests.compute.conftest import make_photos

    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=300)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--cpus", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    n = args.photos
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        photos = tmp / "photos"
        make_photos(photos, n, faces=n // 10, size=(w, h))
        runs = [_scan(tmp, photos, "local scan", "", [], n)]
        with local_cluster([args.cpus], object_store_mb=200) as address:
            for workers in (1, 2):
                extra = f"compute:\n  address: '{address}'\n  workers: {workers}\n"
                name = f"ray, 1 node, {workers} worker{'s' if workers > 1 else ''}"
                runs.append(_scan(tmp, photos, name, extra, ["--on", "ray"], n))
    local = runs[0]["rate"]
    print(f"{n} photos of {w}x{h}, {args.cpus} CPUs")
    print("| run | photos/s (steady) | vs local | first commit after | whole scan |")
    print("|---|---|---|---|---|")
    for r in runs:
        print(
            f"| {r['name']} | {r['rate']:.1f} | {r['rate'] / local:.0%} | "
            f"{r['first']:.1f} s | {r['total']:.1f} s |"
        )


if __name__ == "__main__":
    main()
