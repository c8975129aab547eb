"""Writing photos and their results; each function runs inside the writer's transaction."""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING

import numpy as np
import sqlite_utils

from photod.index.browse import drop_not_faces
from photod.index.search_schema import begin_bulk, end_bulk_photo
from photod.index.tags import insert_derived_tags, insert_tags

if TYPE_CHECKING:  # the index stores tasks; it is below the pipeline that makes them
    from photod.pipeline.task import PhotoTask

# Tables whose rows a pipeline run recomputes for a photo (replaced as a whole on re-run).
RESULT_TABLES = ("detections", "faces", "captions", "answers", "tags")


def _prefix_range(directory: str) -> tuple[str, str]:
    # Every path below directory sorts in [dir + "/", dir + "0"): "0" follows "/" in ASCII.
    d = directory.rstrip("/")
    return d + "/", d + "0"


def _adopt_by_hash(db: sqlite_utils.Database, task: PhotoTask) -> int | None:
    """A new path with the content of a photo whose file is gone: it moved. Keep its row."""
    assert task.info is not None
    rows = db.conn.execute(
        "SELECT id, path FROM photos WHERE content_hash = ? AND path != ?",
        (task.info.content_hash, str(task.path)),
    ).fetchall()
    for photo_id, old_path in rows:
        if not os.path.lexists(old_path):
            db.conn.execute("UPDATE photos SET path = ? WHERE id = ?", (str(task.path), photo_id))
            return photo_id
    return None


def save_photo(db: sqlite_utils.Database, task: PhotoTask) -> int:
    """Upsert the photo and replace its results in one transaction; return its id."""
    info = task.info
    assert info is not None, "save_photo needs an ingested task"
    # The search document is built once at the end, not by a trigger for every row replaced.
    begin_bulk(db)
    now = time.time()
    path = str(task.path)
    row = db.conn.execute("SELECT id FROM photos WHERE path = ?", (path,)).fetchone()
    photo_id = row[0] if row else _adopt_by_hash(db, task)
    if row is None and photo_id is not None:
        # Adopted a moved photo: its results are still right (same content).
        task.unchanged = True
    values = {
        "path": path,
        "content_hash": info.content_hash,
        "size": info.size,
        "mtime_ns": info.mtime_ns,
        "width": info.width,
        "height": info.height,
        "orientation": info.orientation,
        "format": info.format,
        "taken_at": info.taken_at,
        "camera": info.camera,
        "lens": info.lens,
        "latitude": info.latitude,
        "longitude": info.longitude,
        "place": info.place,
        "status": "indexed",
        "updated_at": now,
    }
    if photo_id is None:
        values["indexed_at"] = now
        photo_id = db["photos"].insert(values).last_pk
    else:
        db["photos"].update(photo_id, values)
    db.conn.execute("DELETE FROM failures WHERE path = ?", (path,))
    if not task.unchanged:
        _replace_results(db, photo_id, task, now)
    end_bulk_photo(db, photo_id)
    task.photo_id = photo_id
    return photo_id


def _replace_results(db: sqlite_utils.Database, photo_id: int, task: PhotoTask, now: float) -> None:
    for table in RESULT_TABLES:
        db.conn.execute(f"DELETE FROM {table} WHERE photo_id = ?", (photo_id,))
    face_ids: list[int] = []
    for face in task.faces:
        x, y, w, h = face.box
        emb = None
        if face.embedding is not None:
            emb = np.asarray(face.embedding, dtype=np.float32).tobytes()
        cur = db.conn.execute(
            "INSERT INTO faces (photo_id, x, y, w, h, score, landmarks, embedding, model) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                photo_id,
                x,
                y,
                w,
                h,
                face.score,
                json.dumps(face.landmarks) if face.landmarks else None,
                emb,
                face.model,
            ),
        )
        face_ids.append(cur.lastrowid)
    for det in task.detections:
        face_id = face_ids[det.face_index] if det.face_index is not None else None
        # A person's box is its face's; a pet's or object's is the head's own.
        own = face_id is None and det.box is not None
        box = det.box if own else (None,) * 4
        # A box with no stated source is the head's (Detection.box_source, BOX_HEAD).
        source = (det.box_source or "head") if own else None
        db.conn.execute(
            "INSERT INTO detections (photo_id, concept_id, face_id, score, head_model, "
            "concept_version, x, y, w, h, box_source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (photo_id, det.concept_id, face_id, det.score, det.head_model, det.concept_version,
             *box, source),
        )  # fmt: skip
    for cap in task.captions:
        db.conn.execute(
            "INSERT INTO captions (photo_id, text, model, concept_versions, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (photo_id, cap.text, cap.model, json.dumps(cap.concept_versions), now),
        )
    for ans in task.answers:
        db.conn.execute(
            "INSERT INTO answers (photo_id, question, answer, model, concept_versions, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (photo_id, ans.question, ans.answer, ans.model, json.dumps(ans.concept_versions), now),
        )
    insert_tags(db, photo_id, task.tags)
    insert_derived_tags(db, photo_id, task.answers)
    drop_not_faces(db, photo_id)  # faces the user marked "not a face" stay gone


def record_own_write(
    db: sqlite_utils.Database,
    photo_id: int,
    before: tuple[int, int],
    after: tuple[int, int],
    content_hash: str | None = None,
) -> bool:
    """Store the photo's (size, mtime_ns) and hash after photod itself rewrote its metadata.

    That is what the watcher and the start-up reconcile compare, so photod's own write is not
    seen as a change. Only a row that still shows the pre-write state is updated: if another
    change was recorded meanwhile, that one must win. Returns whether the row was updated.
    """
    cur = db.conn.execute(
        "UPDATE photos SET size = ?, mtime_ns = ?, content_hash = coalesce(?, content_hash), "
        "updated_at = ? WHERE id = ? AND size = ? AND mtime_ns = ?",
        (*after, content_hash, time.time(), photo_id, *before),
    )
    return cur.rowcount > 0


def record_failure(
    db: sqlite_utils.Database,
    path: str,
    stage: str,
    reason: str,
    *,
    version: tuple[int, int] | None = None,
) -> None:
    """Remember why ``path`` could not be processed (the latest reason wins).

    With the ``version`` that failed, (size, mtime_ns), reconcile and the watcher will not
    retry the file until it changes.
    """
    size, mtime_ns = version if version is not None else (None, None)
    db.conn.execute(
        "INSERT INTO failures (path, stage, reason, attempts, failed_at, size, mtime_ns) "
        "VALUES (?, ?, ?, 1, ?, ?, ?) "
        "ON CONFLICT (path) DO UPDATE SET stage = excluded.stage, reason = excluded.reason, "
        "attempts = failures.attempts + 1, failed_at = excluded.failed_at, "
        "size = excluded.size, mtime_ns = excluded.mtime_ns",
        (path, stage, reason, time.time(), size, mtime_ns),
    )
    # A photo that was indexed before and now fails keeps its old results, marked failed.
    db.conn.execute("UPDATE photos SET status = 'failed' WHERE path = ?", (path,))


def mark_missing(db: sqlite_utils.Database, path: str) -> int:
    """The file (or folder) at ``path`` is gone.

    Its rows are kept as ``missing`` until :func:`purge_missing` runs, so that a move that
    arrives as delete + create (rsync, another filesystem, offline) keeps the photo's results.
    """
    lo, hi = _prefix_range(path)
    now = time.time()
    cur = db.conn.execute(
        "UPDATE photos SET status = 'missing', updated_at = ? "
        "WHERE path = ? OR (path >= ? AND path < ?)",
        (now, path, lo, hi),
    )
    db.conn.execute(
        "DELETE FROM failures WHERE path = ? OR (path >= ? AND path < ?)", (path, lo, hi)
    )
    return cur.rowcount


def purge_missing(db: sqlite_utils.Database) -> int:
    """Delete the rows of photos that are still missing (their results cascade), and the
    cached CLIP embeddings of contents no photo has any more."""
    rows = db.conn.execute("SELECT id, path FROM photos WHERE status = 'missing'").fetchall()
    gone = [r[0] for r in rows if not os.path.lexists(r[1])]
    db.conn.executemany("DELETE FROM photos WHERE id = ?", [(i,) for i in gone])
    if gone:
        # Keyed by content, not by photo, so nothing cascades: a copy elsewhere keeps it.
        db.conn.execute(
            "DELETE FROM clip_embeddings WHERE content_hash NOT IN "
            "(SELECT content_hash FROM photos WHERE content_hash IS NOT NULL)"
        )
    return len(gone)


def drop_failures(db: sqlite_utils.Database, paths: list[str]) -> None:
    """Forget the failure records of these paths (their files are gone)."""
    db.conn.executemany("DELETE FROM failures WHERE path = ?", [(p,) for p in paths])


def move_photo(db: sqlite_utils.Database, src: str, dst: str) -> int:
    """Rename ``src`` (a photo or a folder) to ``dst`` keeping identity and results.

    Returns the number of photos moved (0 if src was unknown).
    """
    src_lo, src_hi = _prefix_range(src)
    known = db.conn.execute(
        "SELECT count(*) FROM photos WHERE path = ? OR (path >= ? AND path < ?)",
        (src, src_lo, src_hi),
    ).fetchone()[0]
    if not known:
        # Nothing to move: leave the destination alone (the caller indexes it instead).
        return 0
    # Whatever was indexed at the destination was overwritten by the move.
    lo, hi = _prefix_range(dst)
    db.conn.execute("DELETE FROM photos WHERE path = ? OR (path >= ? AND path < ?)", (dst, lo, hi))
    moved = db.conn.execute("UPDATE photos SET path = ? WHERE path = ?", (dst, src)).rowcount
    rows = db.conn.execute(
        "SELECT id, path FROM photos WHERE path >= ? AND path < ?", (src_lo, src_hi)
    ).fetchall()
    dst_prefix = dst.rstrip("/") + "/"
    for photo_id, old in rows:
        db.conn.execute(
            "UPDATE photos SET path = ? WHERE id = ?", (dst_prefix + old[len(src_lo) :], photo_id)
        )
    db.conn.execute("UPDATE failures SET path = ? WHERE path = ?", (dst, src))
    return moved + len(rows)


def set_meta(db: sqlite_utils.Database, key: str, value: str) -> None:
    """Store a small fact (last activity, daemon state) for ``photod status``."""
    db.conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
