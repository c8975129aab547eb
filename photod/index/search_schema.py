"""The search index: one full-text document per photo, kept in sync by triggers.

Migration ``0006_search_index`` replaces the per-caption ``text_fts`` with ``photo_fts``,
whose rowid is the photo's id and whose columns are everything photod knows about the photo:
the names of the concepts found in it, its tags, its captions and answers, its place, its
folder and file name, camera, lens and date words. ``search_docs`` (a view) computes that
document from the tables; every trigger rebuilds the one document its change touches, so a
photo's commit leaves its document current without any caller having to remember it.

A bulk load (the benchmark, the migration's backfill) sets ``meta.search_bulk`` inside its
transaction: the triggers then do nothing and the loader builds the documents in one
statement at the end (:func:`rebuild_documents`).
"""

from __future__ import annotations

import sqlite_utils

from photod.index.tags import ANSWER_SOURCE, CONCEPT_SOURCE, answer_tag

#: FTS5 columns of ``photo_fts``, in order (the bm25 weights in :mod:`photod.index.search`
#: follow this order).
COLUMNS = ("names", "tags", "text", "place", "folder", "file", "camera", "lens", "date")

# English month names whatever the locale (calendar.month_name follows LC_TIME).
_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
                "september", "october", "november", "december")  # fmt: skip
_MONTHS = " ".join(f"WHEN '{i:02d}' THEN '{m}'" for i, m in enumerate(_MONTH_NAMES, start=1))

# The trigger guard: nothing to do while a bulk load builds the documents itself.
_LIVE = "WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'search_bulk')"


def _rebuild(photo_id: str) -> str:
    return (
        f"DELETE FROM photo_fts WHERE rowid = {photo_id};\n"
        f"INSERT INTO photo_fts (rowid, {', '.join(COLUMNS)}) "
        f"SELECT * FROM search_docs WHERE photo_id = {photo_id};"
    )


def _triggers() -> str:
    out = []
    for table in ("detections", "tags", "captions", "answers"):
        for event, row in (("INSERT", "new"), ("DELETE", "old")):
            out.append(
                f"CREATE TRIGGER {table}_search_{event.lower()} AFTER {event} ON {table} {_LIVE} "
                f"BEGIN {_rebuild(row + '.photo_id')} END;"
            )
        out.append(
            f"CREATE TRIGGER {table}_search_update AFTER UPDATE ON {table} {_LIVE} "
            f"BEGIN {_rebuild('old.photo_id')} {_rebuild('new.photo_id')} END;"
        )
    out.append(
        f"CREATE TRIGGER photos_search_insert AFTER INSERT ON photos {_LIVE} "
        f"BEGIN {_rebuild('new.id')} END;"
    )
    out.append(
        "CREATE TRIGGER photos_search_update AFTER UPDATE OF path, taken_at, camera, lens, place "
        f"ON photos {_LIVE} BEGIN {_rebuild('new.id')} END;"
    )
    out.append(
        "CREATE TRIGGER photos_search_delete AFTER DELETE ON photos "
        "BEGIN DELETE FROM photo_fts WHERE rowid = old.id; END;"
    )
    # A renamed concept renames itself in every photo it was found in.
    touched = "(SELECT photo_id FROM detections WHERE concept_id = new.id)"
    out.append(
        f"CREATE TRIGGER concepts_search_update AFTER UPDATE OF name, identifier ON concepts "
        f"{_LIVE} BEGIN DELETE FROM photo_fts WHERE rowid IN {touched}; "
        f"INSERT INTO photo_fts (rowid, {', '.join(COLUMNS)}) "
        f"SELECT * FROM search_docs WHERE photo_id IN {touched}; END;"
    )
    return "\n".join(out)


SEARCH_SCHEMA = (
    """
-- Facts ingest reads from EXIF, and the place the GPS position lies in.
ALTER TABLE photos ADD COLUMN camera TEXT;  -- make and model
ALTER TABLE photos ADD COLUMN lens TEXT;
ALTER TABLE photos ADD COLUMN latitude REAL;
ALTER TABLE photos ADD COLUMN longitude REAL;
ALTER TABLE photos ADD COLUMN place TEXT;  -- "city, county, region, country" (offline geocoding)
CREATE INDEX tags_value_nocase ON tags(value COLLATE NOCASE);
CREATE INDEX tags_photo ON tags(photo_id);

"""
    + "\n".join(
        f"DROP TRIGGER {t}_{e};"
        for t in ("captions", "answers", "tags")
        for e in ("ai", "ad", "au")
    )
    + """
DROP TABLE text_fts;

CREATE VIRTUAL TABLE photo_fts USING fts5(
    names, tags, text, place, folder, file, camera, lens, date,
    -- Porter stemming: "beaches" finds "beach" without the cost of prefix queries.
    tokenize = 'porter unicode61 remove_diacritics 2'
);

-- What photo_fts holds for each photo. Answers without their questions: a question is the
-- same for every photo and would make its words match all of them.
CREATE VIEW search_docs AS
SELECT p.id AS photo_id,
    (SELECT group_concat(c.name || CASE WHEN c.identifier = c.name THEN '' ELSE ' ' ||
        c.identifier END, ' ') FROM detections d
        JOIN concepts c ON c.id = d.concept_id WHERE d.photo_id = p.id) AS names,
    (SELECT group_concat(value, ' ') FROM tags WHERE photo_id = p.id) AS tags,
    trim(coalesce((SELECT group_concat(text, ' ') FROM captions WHERE photo_id = p.id), '')
        || ' ' || coalesce((SELECT group_concat(answer, ' ') FROM answers
        WHERE photo_id = p.id), '')) AS text,
    p.place AS place,
    -- rtrim by every character but '/' leaves the folder (SQLite has no dirname).
    rtrim(p.path, replace(p.path, '/', '')) AS folder,
    substr(p.path, length(rtrim(p.path, replace(p.path, '/', ''))) + 1) AS file,
    p.camera AS camera,
    p.lens AS lens,
    CASE WHEN p.taken_at IS NULL THEN NULL ELSE substr(p.taken_at, 1, 4) || ' ' ||
        CASE substr(p.taken_at, 6, 2) """
    + _MONTHS
    + """ ELSE '' END END AS date
FROM photos p;
"""
    + _triggers()
)


def rebuild_documents(db: sqlite_utils.Database, first_id: int | None = None) -> None:
    """(Re)build the search documents of every photo, or of those from ``first_id`` on."""
    where = "" if first_id is None else " WHERE photo_id >= ?"
    params = () if first_id is None else (first_id,)
    db.conn.execute(
        "DELETE FROM photo_fts" + ("" if first_id is None else " WHERE rowid >= ?"), params
    )
    db.conn.execute(
        f"INSERT INTO photo_fts (rowid, {', '.join(COLUMNS)}) SELECT * FROM search_docs{where}",
        params,
    )


def rebuild_document(db: sqlite_utils.Database, photo_id: int) -> None:
    """Rebuild one photo's search document."""
    db.conn.execute("DELETE FROM photo_fts WHERE rowid = ?", (photo_id,))
    db.conn.execute(
        f"INSERT INTO photo_fts (rowid, {', '.join(COLUMNS)}) "
        "SELECT * FROM search_docs WHERE photo_id = ?",
        (photo_id,),
    )


def begin_bulk(db: sqlite_utils.Database) -> None:
    """Turn the search triggers off for the rest of the caller's transaction."""
    db.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('search_bulk', '1')")


def end_bulk(db: sqlite_utils.Database, first_id: int | None = None) -> None:
    """Turn the triggers back on and build the documents the bulk load skipped."""
    db.conn.execute("DELETE FROM meta WHERE key = 'search_bulk'")
    rebuild_documents(db, first_id)


def end_bulk_photo(db: sqlite_utils.Database, photo_id: int) -> None:
    """Turn the triggers back on after one photo's rows were replaced; build its document."""
    db.conn.execute("DELETE FROM meta WHERE key = 'search_bulk'")
    rebuild_document(db, photo_id)


def backfill(db: sqlite_utils.Database) -> None:
    """Tags for the concepts found and short answers of an existing index, its documents,
    and one re-index job per photo so that ingest reads camera, lens and GPS (the photos are
    unchanged, so no model runs again)."""
    begin_bulk(db)
    db.conn.execute(
        "INSERT OR IGNORE INTO tags (photo_id, value, source, model, score) "
        "SELECT d.photo_id, c.name, ?, d.head_model || '@v' || d.concept_version, max(d.score) "
        "FROM detections d JOIN concepts c ON c.id = d.concept_id GROUP BY d.photo_id, c.id",
        (CONCEPT_SOURCE,),
    )
    rows = db.conn.execute("SELECT photo_id, answer, model FROM answers").fetchall()
    db.conn.executemany(
        "INSERT OR IGNORE INTO tags (photo_id, value, source, model) VALUES (?, ?, ?, ?)",
        [(pid, tag, ANSWER_SOURCE, model) for pid, a, model in rows if (tag := answer_tag(a))],
    )
    end_bulk(db)
    db.conn.execute(
        "INSERT INTO jobs (kind, path, created_at, updated_at) "
        "SELECT 'index', path, unixepoch(), unixepoch() FROM photos WHERE status = 'indexed' "
        "ON CONFLICT (kind, path) WHERE state = 'queued' DO NOTHING"
    )
