"""The web app on a 100,000-photo index: the library page's first screen, and thumbnails.

The index is built through photod's own index code (``photos.save_photo`` inside the single
writer, 5,000 photos per transaction): every photo has a date, a third a face, a tenth a
person detection, half a caption and a tag. The newest ``--files`` photos are real
12-megapixel JPEGs on disk (the first screen's tiles); the rest exist only in the index.

Measured, each as the median and p95 of ``--runs`` requests after one warm-up:
- the library page (``GET /``: the first 60 tiles and the page around them) in process
  (Starlette's test client, no network) and through a real uvicorn server on the loopback;
- the search page ``GET /?q=person:Alice`` (the name filter over 10,000 detections);
- a thumbnail: miss (decoded from the 12-megapixel JPEG, oriented, resized, saved) and hit
  (the cached file), through uvicorn.

Usage::

    python bench/web_library.py                      # 100,000 photos, 20 runs
    python bench/web_library.py --photos 20000 --json /tmp/web.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from photod.app import build_app
from photod.config import load_config
from photod.index import Index
from photod.index import concepts as store
from photod.index.jobs import Job
from photod.index.photos import save_photo
from photod.pipeline.task import Caption, Detection, Face, PhotoInfo, PhotoTask, Tag

BATCH = 5000


def build_index(path: Path, root: Path, n: int) -> float:
    """Write ``n`` photos through the index's writer; return the seconds it took."""
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    with Index(path).start() as index:
        alice = index.write(
            lambda db: store.add_concept(db, "Alice", kind="person", class_word="woman")
        )
        for lo in range(0, n, BATCH):
            tasks = []
            for i in range(lo, min(n, lo + BATCH)):
                day = i // 40  # 40 photos a day, newest last
                taken = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1.2e9 + day * 86400 + i))
                task = PhotoTask(
                    job=Job(0, "index", ""),
                    path=root / f"{day // 365}/{day}/IMG_{i:06d}.jpg",
                    info=PhotoInfo(f"{i:064x}", 3_000_000, i, 3000, 2000, 1, "JPEG", taken),
                )
                if i % 3 == 0:
                    emb = rng.standard_normal(128).astype(np.float32)
                    task.faces.append(Face((0.4, 0.3, 0.1, 0.15), 0.9, "dlib", emb))
                    if i % 10 == 0:
                        task.detections.append(Detection(alice.id, 0.8, "face-keys:dlib", 1, 0))
                if i % 2 == 0:
                    task.captions.append(Caption("a person on the beach", "llava", {}))
                    task.tags.append(Tag("beach", "bench", "bench/1"))
                tasks.append(task)
            index.write(lambda db, ts=tasks: [save_photo(db, t) for t in ts])
    return time.perf_counter() - start


def write_files(root: Path, paths: list[str]) -> None:
    """Real 12-megapixel JPEGs at the given indexed paths."""
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (2000, 3000, 3), dtype=np.uint8)
    for p in paths:
        Path(p).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.roll(base, len(p), axis=1)).save(p, quality=90)


def timed(fn, runs: int) -> dict[str, float]:
    """Median and p95 in milliseconds of ``runs`` calls after one warm-up."""
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
    }


def page_ok(client, url: str, tiles: int | None = None, **kw) -> None:
    """GET ``url``; it must answer 200 (and show ``tiles`` tiles): nothing faster by failing."""
    r = client.get(url, **kw)
    assert r.status_code == 200, (url, r.status_code)
    assert tiles is None or r.text.count('class="tile"') == tiles, url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--files", type=int, default=60, help="real JPEGs (the first screen)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/photod-bench-web"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    import httpx
    from starlette.testclient import TestClient

    from photod.index import browse
    from photod.web.server import WebServer, create_web_app

    d = args.dir
    if d.exists():
        shutil.rmtree(d)
    root = d / "photos"
    root.mkdir(parents=True)
    cfg_file = d / "config.yaml"
    cfg_file.write_text(
        f"paths:\n  data_dir: {d / 'data'}\n  cache_dir: {d / 'cache'}\n"
        f"  state_dir: {d / 'state'}\nlibrary:\n  roots: [{root}]\nclip:\n  enabled: false\n"
    )
    config = load_config(cfg_file, environ={})
    config.index_path.parent.mkdir(parents=True, exist_ok=True)
    build_s = build_index(config.index_path, root, args.photos)
    out: dict = {
        "photos": args.photos,
        "index_build_s": round(build_s, 1),
        "index_mb": round(config.index_path.stat().st_size / 1e6, 1),
    }
    with build_app(config) as app:
        first = app.index.read(lambda db: browse.library_page(db, args.files))
        write_files(root, [p.path for p in first])
        web = create_web_app(app, config.web)
        with TestClient(web, base_url="http://127.0.0.1") as client:
            out["library_in_process"] = timed(lambda: page_ok(client, "/", 60), args.runs)
            out["search_person_in_process"] = timed(
                lambda: page_ok(client, "/", 60, params={"q": "person:Alice"}), args.runs
            )
        cfg = config.web.model_copy(update={"port": free_port()})
        server = WebServer(app, cfg).start()
        try:
            with httpx.Client(base_url=server.url) as http:
                out["library_uvicorn"] = timed(lambda: page_ok(http, "/", 60), args.runs)
                ids = iter([p.id for p in first])

                def miss() -> None:
                    r = http.get(f"/image/{next(ids)}/s")
                    assert r.status_code == 200

                runs = min(args.runs, args.files - 2)
                out["thumbnail_miss"] = timed(miss, runs)
                out["thumbnail_hit"] = timed(lambda: http.get(f"/image/{first[0].id}/s"), args.runs)
        finally:
            server.stop()
    out["cpus"] = os.cpu_count()
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
