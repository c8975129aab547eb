"""What two indexes must agree on after scanning the same photos: every result table, read
by photo path (row ids differ between indexes), scores rounded past float noise."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

QUERIES = {
    "photos": "SELECT path, content_hash, size, mtime_ns, width, height, orientation, format, "
    "taken_at, camera, lens, latitude, longitude, place, status FROM photos",
    "faces": "SELECT p.path, round(f.x, 4), round(f.y, 4), round(f.w, 4), round(f.h, 4), "
    "round(f.score, 3), f.model FROM faces f JOIN photos p ON p.id = f.photo_id",
    "detections": "SELECT p.path, d.concept_id, round(d.score, 3), d.head_model, "
    "d.concept_version FROM detections d JOIN photos p ON p.id = d.photo_id",
    "tags": "SELECT p.path, t.value, t.source, t.model, round(t.score, 3) FROM tags t "
    "JOIN photos p ON p.id = t.photo_id",
    "captions": "SELECT p.path, c.text, c.model, c.concept_versions FROM captions c "
    "JOIN photos p ON p.id = c.photo_id",
    "failures": "SELECT path, stage FROM failures",
    "jobs": "SELECT kind, path, state FROM jobs",
}


def index_rows(index_path: Path) -> dict[str, list[tuple]]:
    """Every table of :data:`QUERIES`, sorted, plus the CLIP cache's hashes."""
    conn = sqlite3.connect(index_path)
    try:
        out = {name: sorted(conn.execute(q).fetchall(), key=repr) for name, q in QUERIES.items()}
        out["clip"] = sorted(r[0] for r in conn.execute("SELECT content_hash FROM clip_embeddings"))
        return out
    finally:
        conn.close()


def clip_vectors(index_path: Path) -> dict[str, np.ndarray]:
    """The cached CLIP embeddings by content hash."""
    conn = sqlite3.connect(index_path)
    try:
        rows = conn.execute("SELECT content_hash, embedding FROM clip_embeddings").fetchall()
        return {h: np.frombuffer(b, dtype=np.float32) for h, b in rows}
    finally:
        conn.close()


def photo_count(index_path: Path) -> int:
    """Rows in ``photos`` (0 before the index exists)."""
    if not index_path.exists():
        return 0
    conn = sqlite3.connect(index_path, timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM photos").fetchone()[0]
    except sqlite3.OperationalError:  # not migrated yet
        return 0
    finally:
        conn.close()
