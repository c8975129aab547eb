"""Resident memory of a real `photod run` process: idle, with CLIP loaded, after idle unload.

Two runs of the daemon, each in its own temporary folder and configuration:

1. **idle**: no VLM configured, an empty photo folder; RSS once the daemon is up and idle.
2. **clip**: `clip.model: ViT-B-32/random` (the full-size architecture, random weights, no
   download) with `clip.idle_unload_seconds: --idle` (and the face models' too, where the
   checkout has that setting); `--photos` photos are indexed, so CLIP and the face models
   load. RSS once they are indexed, then again after the idle time-to-live has passed.

`--checkout DIR` measures another checkout of photod (e.g. an exported older commit) with the
same script. One JSON object per run is printed (and written to `--json`). Run:

    .venv/bin/python bench/idle_memory.py [--photos 8] [--idle 10] [--checkout DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

MB = 1024 * 1024


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MiB."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB


def supports_faces_idle(env: dict) -> bool:
    """Whether the measured checkout has ``faces.idle_unload_seconds``."""
    code = (
        "from photod.config import FacesConfig; "
        "print('idle_unload_seconds' in FacesConfig.model_fields)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd="/", capture_output=True, text=True
    )
    return out.stdout.strip() == "True"


def write_config(tmp: Path, extra: str) -> Path:
    """An isolated configuration under ``tmp``."""
    (tmp / "photos").mkdir(parents=True, exist_ok=True)
    cfg = tmp / "config.yaml"
    cfg.write_text(
        f"paths:\n  data_dir: {tmp / 'data'}\n  cache_dir: {tmp / 'cache'}\n"
        f"  state_dir: {tmp / 'state'}\n"
        f"library:\n  roots: [{tmp / 'photos'}]\n" + extra
    )
    return cfg


def indexed(cfg: Path, env: dict) -> int:
    """Photos the daemon has indexed so far (``photod status --json``, beside the daemon)."""
    out = subprocess.run(
        [sys.executable, "-m", "photod", "--config", str(cfg), "status", "--json"],
        env=env,
        cwd=cfg.parent,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        return 0  # no index yet
    return json.loads(out.stdout).get("by_status", {}).get("indexed", 0)


def settle(pid: int, seconds: float = 3.0) -> float:
    """RSS after it stopped changing by more than 1 MiB for ``seconds`` (max 60 s)."""
    last, since, deadline = rss_mb(pid), time.monotonic(), time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = rss_mb(pid)
        if abs(now - last) > 1:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= seconds:
            break
    return round(last, 1)


def run_daemon(cfg: Path, env: dict) -> subprocess.Popen:
    """`photod run` as its own process."""
    return subprocess.Popen(
        [sys.executable, "-m", "photod", "--config", str(cfg), "run"],
        env=env,
        cwd=cfg.parent,  # `-m` puts the working folder first on sys.path: not a checkout
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM and wait (the daemon drains and closes its index)."""
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def measure_idle(env: dict) -> dict:
    """RSS of an idle daemon with no VLM and no photos."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        proc = run_daemon(write_config(tmp, ""), env)
        try:
            time.sleep(2)
            return {"run": "idle, no VLM", "rss_mb": settle(proc.pid)}
        finally:
            stop(proc)


def measure_clip(env: dict, photos: int, idle: float) -> dict:
    """RSS with CLIP (and the face models) loaded, then after their idle time-to-live."""
    faces = f"faces:\n  idle_unload_seconds: {idle}\n" if supports_faces_idle(env) else ""
    extra = f"clip:\n  model: ViT-B-32/random\n  idle_unload_seconds: {idle}\n" + faces
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cfg = write_config(tmp, extra)
        rng = np.random.default_rng(0)
        for i in range(photos):
            arr = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
            Image.fromarray(arr).save(tmp / "photos" / f"p{i}.jpg", quality=90)
        proc = run_daemon(cfg, env)
        try:
            started = time.monotonic()
            while indexed(cfg, env) < photos:
                if proc.poll() is not None or time.monotonic() - started > 600:
                    raise RuntimeError("the daemon stopped or never indexed the photos")
                time.sleep(1)
            loaded_at = time.monotonic()
            loaded = round(rss_mb(proc.pid), 1)
            time.sleep(max(0.0, idle - (time.monotonic() - loaded_at)) + 2)
            after = settle(proc.pid)
            return {
                "run": "CLIP ViT-B-32 loaded",
                "photos": photos,
                "idle_unload_seconds": idle,
                "faces_idle_unload": bool(faces),
                "rss_loaded_mb": loaded,
                "rss_after_idle_mb": after,
            }
        finally:
            stop(proc)


def main() -> None:
    """Print one JSON object per run."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=8)
    ap.add_argument("--idle", type=float, default=10, help="idle_unload_seconds")
    ap.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.checkout.resolve()), "HF_HUB_OFFLINE": "1"}
    results = [measure_idle(env), measure_clip(env, args.photos, args.idle)]
    for r in results:
        r["checkout"] = str(args.checkout)
        print(json.dumps(r))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
