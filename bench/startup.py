"""Start-up of the command line: wall and CPU time of `photod search` in fresh processes.

    python bench/startup.py                          # this checkout, 20 runs
    python bench/startup.py --checkout /tmp/photod-old --runs 30

Each run is a new ``python -m photod search beach`` on an empty index (so the time is the
start-up plus one query that finds nothing), like hyperfine: one warm-up run, then ``--runs``
timed runs; prints the median and p95 of wall time and the median CPU time (user + system,
which the other processes of a shared machine disturb less).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(f"paths: {{data_dir: {tmp}/data, cache_dir: {tmp}/cache}}\n")
        env = dict(os.environ, PYTHONPATH=str(args.checkout), PHOTOD_CONFIG=str(config))
        base = [sys.executable, "-m", "photod"]
        subprocess.run([*base, "scan", "--no-progress"], env=env, capture_output=True, check=True)
        cmd = [*base, "search", "beach"]
        run_once(cmd, env)  # warm-up: the page cache, the .pyc files
        walls, cpus = zip(*(run_once(cmd, env) for _ in range(args.runs)), strict=True)
    ms = sorted(w * 1e3 for w in walls)
    print(
        f"{args.checkout}: wall median {statistics.median(ms):.0f} ms, "
        f"p95 {ms[int(0.95 * (len(ms) - 1))]:.0f} ms, "
        f"CPU median {statistics.median(cpus) * 1e3:.0f} ms over {args.runs} runs"
    )


if __name__ == "__main__":
    main()
