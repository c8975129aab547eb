"""Ingest benchmark: ``photod scan`` against a bare reduced-size decode loop, same files, same run.

    .venv/bin/python bench/ingest.py [--dir /tmp/photod-bench-12mp] [--count 500] [--runs 3]

Generates ``--count`` realistic 12-megapixel JPEGs once (4000x3000, smooth gradients, shapes
and sensor-like noise, quality 90: 2-5 MB each) and keeps them in ``--dir`` for later runs.
Every file is read once before timing (warm page cache), so both sides measure decoding and
photod's own overhead, not the disk. Each run times (a) a single-threaded loop of
``open + draft('RGB', (1024, 1024)) + load()`` and (b) ``photod scan`` through the real CLI
with a fresh index; it reports photos per second, the median and spread over the runs, and
photod's share of the bare loop's rate (target >= 85%).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

WIDTH, HEIGHT = 4000, 3000


def make_photo(args: tuple[Path, int]) -> int:
    """Write one synthetic 12 MP photo (deterministic per seed); return its size in bytes."""
    path, seed = args
    rng = np.random.default_rng(seed)
    # Low-frequency background: a sky-to-ground blend of two random colours plus a slow wave.
    y = np.linspace(0.0, 1.0, HEIGHT, dtype=np.float32)[:, None, None]
    x = np.linspace(0.0, 1.0, WIDTH, dtype=np.float32)[None, :, None]
    top, bottom = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
    wave = 25 * np.sin(2 * np.pi * (x * rng.uniform(0.5, 3) + y * rng.uniform(0.5, 2)))
    base = (top * (1 - y) + bottom * y + wave).astype(np.float32)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.integers(8, 20)):  # objects with hard edges
        x0, y0 = int(rng.integers(0, WIDTH - 200)), int(rng.integers(0, HEIGHT - 200))
        w, h = int(rng.integers(100, 1500)), int(rng.integers(100, 1200))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x0 + w, y0 + h), fill=colour)
    # Sensor-like noise: what makes real photos 2-5 MB at quality 90 instead of a few hundred
    # KB. A random 1000x750 block tiled over the frame costs a fraction of per-pixel noise and
    # JPEG's 8x8 blocks cannot tell the difference.
    block = rng.integers(-12, 13, size=(HEIGHT // 4, WIDTH // 4, 3), dtype=np.int16)
    arr = np.asarray(img, dtype=np.int16) + np.tile(block, (4, 4, 1))
    np.clip(arr, 0, 255, out=arr)
    tmp = path.with_suffix(".tmp")
    Image.fromarray(arr.astype(np.uint8)).save(tmp, "JPEG", quality=90)
    tmp.rename(path)  # a run interrupted mid-write leaves no half photo in the set
    return path.stat().st_size


def ensure_photos(folder: Path, count: int, processes: int) -> list[Path]:
    """The benchmark set, generating only the photos a previous run did not leave."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"bench_{i:04d}.jpg" for i in range(count)]
    missing = [(p, i) for i, p in enumerate(paths) if not p.exists()]
    if missing:
        print(f"generating {len(missing)} photos in {folder} ({processes} processes)...")
        t0 = time.perf_counter()
        with multiprocessing.Pool(processes) as pool:
            for done, _ in enumerate(pool.imap_unordered(make_photo, missing, chunksize=4), 1):
                if done % 50 == 0:
                    print(f"  {done}/{len(missing)}", flush=True)
        print(f"generated in {time.perf_counter() - t0:.0f} s")
    return paths


def warm(paths: list[Path]) -> int:
    """Read every file once so that both measurements start from the page cache."""
    total = 0
    for p in paths:
        total += len(p.read_bytes())
    return total


def bare_loop(paths: list[Path], working_size: int) -> float:
    """Photos per second of the minimal reduced-size decode, single-threaded."""
    t0 = time.perf_counter()
    for p in paths:
        with Image.open(p) as img:
            img.draft("RGB", (working_size, working_size))
            img.load()
    return len(paths) / (time.perf_counter() - t0)


# The concept heads compute CLIP embeddings (and faces) for every photo: model work, measured
# by bench/heads.py, not ingest. The benchmark turns them off unless --all-stages is given.
MODEL_PLUGINS = ["builtin_heads"]


def third_party_plugins() -> list[str]:
    """Installed plugins that are not photod's own (they add their own per-photo work)."""
    from importlib.metadata import entry_points

    from photod.plugins import ENTRY_POINT_GROUP

    return sorted(
        ep.name
        for ep in entry_points(group=ENTRY_POINT_GROUP)
        if not ep.value.startswith("photod.")
    )


def photod_scan(
    folder: Path, count: int, working_size: int, workers: int | None, disabled: list[str]
) -> float:
    """Photos per second of ``photod scan`` over ``folder`` into a fresh index."""
    from click.testing import CliRunner

    from photod.cli import cli

    with tempfile.TemporaryDirectory(prefix="photod-bench-") as tmp:
        t = Path(tmp)
        cfg = t / "config.yaml"
        cfg.write_text(
            f"paths: {{data_dir: {t / 'data'}, cache_dir: {t / 'cache'}, state_dir: {t / 's'}}}\n"
            f"library: {{roots: [{folder}]}}\n"
            f"ingest: {{working_size: {working_size}}}\n"
            f"plugins: {{disabled: [{', '.join(disabled)}]}}\n"
            + (f"pipeline: {{ingest_workers: {workers}}}\n" if workers else "")
        )
        t0 = time.perf_counter()
        result = CliRunner().invoke(cli, ["--config", str(cfg), "scan", "--no-progress"])
        elapsed = time.perf_counter() - t0
    if result.exit_code != 0 or f"{count} indexed" not in result.output:
        sys.exit(f"photod scan failed:\n{result.output}{result.exception or ''}")
    return count / elapsed


def summary(rates: list[float]) -> dict[str, float]:
    """Median and spread of photos/second over the runs."""
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}


def main() -> None:
    """Generate (once), warm, then time both sides ``--runs`` times and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/photod-bench-12mp"))
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--working-size", type=int, default=1024)
    ap.add_argument("--ingest-workers", type=int, default=None, help="default: photod's config")
    ap.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="for generation")
    ap.add_argument(
        "--all-stages",
        action="store_true",
        help="keep the concept heads and third-party plugins on (default: off, to measure ingest)",
    )
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if args.count < 1:
        sys.exit("--count must be at least 1")

    paths = ensure_photos(args.dir, args.count, args.processes)
    # Other files in the folder would be scanned too; refuse rather than compare unequal sets.
    extra = {p.name for p in args.dir.iterdir()} - {p.name for p in paths}
    if extra:
        sys.exit(f"{args.dir} holds other files ({len(extra)}); use a folder of its own")
    size = warm(paths)
    print(
        f"{len(paths)} photos, {WIDTH}x{HEIGHT}, {size / len(paths) / 2**20:.1f} MiB average; "
        f"page cache warmed (every file read once before timing)"
    )
    disabled = [] if args.all_stages else MODEL_PLUGINS + third_party_plugins()
    if disabled:
        print(f"plugins off for photod scan (model and plugin stages): {', '.join(disabled)}")
    bare, scan = [], []
    for run in range(args.runs):
        bare.append(bare_loop(paths, args.working_size))
        scan.append(
            photod_scan(args.dir, len(paths), args.working_size, args.ingest_workers, disabled)
        )
        print(
            f"run {run + 1}: bare loop {bare[-1]:.1f} photos/s, photod scan {scan[-1]:.1f} "
            f"photos/s, ratio {scan[-1] / bare[-1]:.0%}",
            flush=True,
        )
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "photos": len(paths),
        "working_size": args.working_size,
        "ingest_workers": args.ingest_workers or "config default",
        "plugins_disabled": disabled,
        "bare_loop": summary(bare),
        "photod_scan": summary(scan),
        "ratio_of_medians": statistics.median(scan) / statistics.median(bare),
        "ratios": [s / b for s, b in zip(scan, bare, strict=True)],
    }
    b, s = report["bare_loop"], report["photod_scan"]
    print(
        f"bare loop:   median {b['median']:.1f} photos/s (min {b['min']:.1f}, max {b['max']:.1f})"
    )
    print(
        f"photod scan: median {s['median']:.1f} photos/s (min {s['min']:.1f}, max {s['max']:.1f})"
    )
    print(f"photod / bare: {report['ratio_of_medians']:.0%} (target >= 85%)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
