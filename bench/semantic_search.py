"""Semantic search at scale: N photos with 512-d CLIP embeddings stored through photod's own
index code, then the nearest 50 photos to a query vector, as ``photod search`` runs it.

    python bench/semantic_search.py                       # 100,000 photos
    nice python bench/semantic_search.py --count 1000000 --json /tmp/semantic-1m.json
    python bench/semantic_search.py --usearch             # also an HNSW index (usearch)

Prints: build time and index size; the cold load of the matrix from SQLite and the memory it
takes; the staleness check each search makes; top-50 latency p50/p95 of photod's exhaustive
scan (numpy, float32) with the photo join; with ``--usearch``, the same for a usearch HNSW
index built from the same vectors (build time, file size, latency, recall@50 against the
exact answer). sqlite-vec is checked for: it needs ``sqlite3.Connection.enable_load_extension``.

The vectors are clustered (1,000 centres, noise around each), L2-normalised, seeded: nearer
to real CLIP embeddings than uniform noise, where every neighbour is a near tie. The index is
kept in ``--db`` (default /tmp/photod-bench-semantic-<count>.sqlite) and reused when it holds
``--count`` photos.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import time
from pathlib import Path

import numpy as np

from photod.index import Index
from photod.index.bulk import BulkPhoto

MODEL = "bench/clustered-512"
DIM = 512


def rss_mb() -> float:
    """Resident memory of this process (MB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def vectors(rng: np.random.Generator, centres: np.ndarray, n: int) -> np.ndarray:
    """``n`` unit vectors around random centres."""
    v = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal(
        (n, DIM), dtype=np.float32
    ) / np.sqrt(DIM)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def build(path: Path, count: int, chunk: int = 50_000) -> dict:
    """Photos and their embeddings through photod's index repositories, ``chunk`` at a time."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((1000, DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    t0 = time.perf_counter()
    with Index(path) as index:
        for start in range(0, count, chunk):
            n = min(chunk, count - start)
            hashes = [f"{i:016x}" for i in range(start, start + n)]
            index.photos.add_bulk(
                [
                    BulkPhoto(f"/photos/{i // 1000:04}/{i:07}.jpg", content_hash=h)
                    for i, h in enumerate(hashes, start)
                ]
            )
            embs = vectors(rng, centres, n)
            rows = [(h, MODEL, e.tobytes()) for h, e in zip(hashes, embs, strict=True)]
            index.features.store_clip(rows).result()
    return {
        "build_s": round(time.perf_counter() - t0, 1),
        "db_mb": round(path.stat().st_size / 1e6),
    }


def percentiles(seconds: list[float]) -> dict:
    """p50 and p95 in milliseconds."""
    ms = sorted(s * 1e3 for s in seconds)
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 2),
    }


def queries(matrix: np.ndarray, n: int) -> np.ndarray:
    """Query vectors near library vectors (what a text matching some photos looks like)."""
    rng = np.random.default_rng(1)
    q = matrix[rng.integers(0, len(matrix), n)] + 0.02 * rng.standard_normal((n, DIM), np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def bench_photod(path: Path, n_queries: int) -> tuple[dict, np.ndarray]:
    """photod's own path: the repository's matrix, the exhaustive scan, the photo join."""
    with Index(path) as index:
        before = rss_mb()
        t0 = time.perf_counter()
        contents = index.vectors.contents(MODEL)
        load_s = time.perf_counter() - t0
        out = {"load_s": round(load_s, 2), "matrix_mb": round(contents.matrix.nbytes / 1e6)}
        out["rss_added_mb"] = round(rss_mb() - before)
        qs = queries(contents.matrix, n_queries)
        check, scan, full = [], [], []
        for q in qs:
            t = time.perf_counter()
            index.vectors.contents(MODEL)  # what each search does first: the staleness check
            check.append(time.perf_counter() - t)
            t = time.perf_counter()
            contents.nearest(q, 50)
            scan.append(time.perf_counter() - t)
            t = time.perf_counter()
            hits = index.vectors.nearest_photos(MODEL, q, 50)
            full.append(time.perf_counter() - t)
            assert len(hits) == 50
        out["staleness_check"] = percentiles(check)
        out["scan_top50"] = percentiles(scan)
        out["search_top50"] = percentiles(full)
        # 1,000 photos re-embedded (same vectors, new rows), as the daemon stores them: the
        # next search reads only those rows.
        again = [
            (h, MODEL, contents.matrix[i].tobytes()) for i, h in enumerate(contents.hashes[:1000])
        ]
        index.features.store_clip(again).result()
        t = time.perf_counter()
        index.vectors.contents(MODEL)
        out["catch_up_1000_ms"] = round((time.perf_counter() - t) * 1e3, 1)
        return out, contents.matrix


def bench_usearch(matrix: np.ndarray, n_queries: int, folder: Path) -> dict:
    """A usearch HNSW index (f16, cosine) over the same vectors: build, size, latency, recall."""
    from usearch.index import Index as HNSW

    hnsw = HNSW(ndim=DIM, metric="cos", dtype="f16")
    t0 = time.perf_counter()
    hnsw.add(np.arange(len(matrix)), matrix, threads=os.cpu_count() or 1)
    out = {"build_s": round(time.perf_counter() - t0, 1)}
    f = folder / "usearch.idx"
    hnsw.save(str(f))
    out["file_mb"] = round(f.stat().st_size / 1e6)
    view = HNSW.restore(str(f), view=True)
    lat, recall = [], []
    for q in queries(matrix, n_queries):
        t = time.perf_counter()
        keys = view.search(q, 50).keys
        lat.append(time.perf_counter() - t)
        exact = np.argpartition(-(matrix @ q), 50)[:50]
        recall.append(len(set(exact.tolist()) & set(keys.tolist())) / 50)
    f.unlink()
    return {**out, **percentiles(lat), "recall_at_50": round(float(np.mean(recall)), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--db", type=Path)
    ap.add_argument("--usearch", action="store_true", help="also measure a usearch HNSW index")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    db = args.db or Path(f"/tmp/photod-bench-semantic-{args.count}.sqlite")
    result: dict = {"count": args.count, "dim": DIM, "cores": os.cpu_count()}
    if db.exists():
        index = Index(db, readonly=True)
        held = len(index.vectors.contents(MODEL))
        index.close()
        if held != args.count:
            raise SystemExit(f"{db} holds {held} embeddings, not {args.count}: remove it")
        result["build"] = "reused " + str(db)
    else:
        result["build"] = build(db, args.count)
    result["photod"], matrix = bench_photod(db, args.queries)
    conn = sqlite3.connect(":memory:")
    result["sqlite_vec_loadable"] = hasattr(conn, "enable_load_extension")
    if args.usearch:
        result["usearch"] = bench_usearch(matrix, args.queries, db.parent)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
