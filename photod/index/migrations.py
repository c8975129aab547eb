"""Named, ordered schema migrations.

Each migration runs once, in its own transaction, and is recorded in ``_migrations``; the
schema version (``PRAGMA user_version``) is the number applied. Later features append to
:data:`MIGRATIONS`; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

import sqlite_utils

from photod.index.search_schema import SEARCH_SCHEMA, backfill

Migration = tuple[str, Callable[[sqlite_utils.Database], None]]


def run_script(db: sqlite_utils.Database, script: str) -> None:
    """Execute ``script`` statement by statement inside the caller's transaction.

    (``executescript`` would COMMIT first and break the migration's atomicity.)
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.conn.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement: {statement.strip()[:80]}")


def _m0001_initial(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        CREATE TABLE photos (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            content_hash TEXT,
            size INTEGER,
            mtime_ns INTEGER,
            width INTEGER,
            height INTEGER,
            orientation INTEGER,
            format TEXT,
            taken_at TEXT,
            status TEXT NOT NULL DEFAULT 'indexed',
            indexed_at REAL,
            updated_at REAL
        );
        CREATE INDEX photos_content_hash ON photos(content_hash);

        -- The latest failure of each path; cleared when the photo is indexed.
        CREATE TABLE failures (
            path TEXT PRIMARY KEY,
            stage TEXT NOT NULL,
            reason TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1,
            failed_at REAL NOT NULL,
            size INTEGER,  -- the file's stat when it failed: an unchanged file is not retried
            mtime_ns INTEGER
        );

        -- The persistent work queue. A job leaves the table only when its work is committed.
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            path TEXT NOT NULL,
            payload TEXT,
            state TEXT NOT NULL DEFAULT 'queued',
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE UNIQUE INDEX jobs_one_queued ON jobs(kind, path) WHERE state = 'queued';
        CREATE INDEX jobs_state ON jobs(state, id);

        CREATE TABLE concepts (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            identifier TEXT NOT NULL,
            kind TEXT NOT NULL,
            class_word TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );

        CREATE TABLE faces (
            id INTEGER PRIMARY KEY,
            photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
            score REAL,
            landmarks TEXT,
            embedding BLOB,
            model TEXT NOT NULL
        );
        CREATE INDEX faces_photo ON faces(photo_id);

        CREATE TABLE detections (
            id INTEGER PRIMARY KEY,
            photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            concept_id INTEGER NOT NULL REFERENCES concepts(id) ON DELETE CASCADE,
            face_id INTEGER REFERENCES faces(id) ON DELETE CASCADE,
            score REAL NOT NULL,
            head_model TEXT NOT NULL,
            concept_version INTEGER NOT NULL
        );
        CREATE INDEX detections_photo ON detections(photo_id);
        CREATE INDEX detections_concept ON detections(concept_id);

        CREATE TABLE captions (
            id INTEGER PRIMARY KEY,
            photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            text TEXT NOT NULL,
            model TEXT NOT NULL,
            concept_versions TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            UNIQUE (photo_id, model)
        );

        CREATE TABLE answers (
            id INTEGER PRIMARY KEY,
            photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            question TEXT NOT NULL,
            answer TEXT NOT NULL,
            model TEXT NOT NULL,
            concept_versions TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL
        );
        CREATE INDEX answers_photo ON answers(photo_id);

        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);

        -- Full-text search over captions and answers. rowid = 2*id for captions, 2*id+1 for
        -- answers, so the triggers delete by rowid instead of scanning.
        CREATE VIRTUAL TABLE text_fts USING fts5(
            text, photo_id UNINDEXED, source UNINDEXED, tokenize = 'unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER captions_ai AFTER INSERT ON captions BEGIN
            INSERT INTO text_fts(rowid, text, photo_id, source)
            VALUES (2 * new.id, new.text, new.photo_id, 'caption');
        END;
        CREATE TRIGGER captions_ad AFTER DELETE ON captions BEGIN
            DELETE FROM text_fts WHERE rowid = 2 * old.id;
        END;
        CREATE TRIGGER captions_au AFTER UPDATE OF text ON captions BEGIN
            UPDATE text_fts SET text = new.text WHERE rowid = 2 * old.id;
        END;
        CREATE TRIGGER answers_ai AFTER INSERT ON answers BEGIN
            INSERT INTO text_fts(rowid, text, photo_id, source)
            VALUES (2 * new.id + 1, new.question || ' ' || new.answer, new.photo_id, 'answer');
        END;
        CREATE TRIGGER answers_ad AFTER DELETE ON answers BEGIN
            DELETE FROM text_fts WHERE rowid = 2 * old.id + 1;
        END;
        CREATE TRIGGER answers_au AFTER UPDATE OF question, answer ON answers BEGIN
            UPDATE text_fts SET text = new.question || ' ' || new.answer
            WHERE rowid = 2 * old.id + 1;
        END;
        """,
    )


def _m0002_concepts(db: sqlite_utils.Database) -> None:
    # Concept examples, content-addressed CLIP embeddings (a moved or duplicated photo keeps
    # them, and example photos outside the library share the cache), persistent training
    # jobs (the scheduler's source of truth) and face clusters of unnamed faces.
    run_script(
        db,
        """
        ALTER TABLE concepts ADD COLUMN head TEXT;  -- head name; NULL: the kind's built-in
        ALTER TABLE concepts ADD COLUMN head_model TEXT;
        ALTER TABLE concepts ADD COLUMN metrics TEXT;

        CREATE TABLE concept_examples (
            id INTEGER PRIMARY KEY,
            concept_id INTEGER NOT NULL REFERENCES concepts(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            face_box TEXT,  -- JSON [x, y, w, h] (normalised): the face the user pointed at
            source TEXT NOT NULL DEFAULT 'cli',  -- cli | folder | cluster
            added_at REAL NOT NULL,
            UNIQUE (concept_id, path)
        );
        CREATE INDEX concept_examples_path ON concept_examples(path);

        CREATE TABLE clip_embeddings (
            content_hash TEXT NOT NULL,
            model TEXT NOT NULL,
            embedding BLOB NOT NULL,  -- float32, L2-normalised
            PRIMARY KEY (content_hash, model)
        );

        CREATE TABLE training_jobs (
            concept_id INTEGER PRIMARY KEY REFERENCES concepts(id) ON DELETE CASCADE,
            state TEXT NOT NULL DEFAULT 'queued',  -- queued | running | failed
            due_at REAL NOT NULL,
            requested_at REAL NOT NULL,
            started_at REAL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        );

        CREATE TABLE face_clusters (
            face_id INTEGER PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,
            cluster_id INTEGER NOT NULL,
            model TEXT NOT NULL
        );
        CREATE INDEX face_clusters_cluster ON face_clusters(cluster_id);
        """,
    )


def _m0003_example_captions(db: sqlite_utils.Database) -> None:
    # The user's own caption of an example photo: the concept's VLM embeddings train on it
    # instead of the caption generated from the base model's description.
    run_script(db, "ALTER TABLE concept_examples ADD COLUMN caption TEXT;")


def _m0004_tags(db: sqlite_utils.Database) -> None:
    # Typed tags from stages and plugins (``blurry``): searchable through the FTS and written
    # as keywords. FTS rowids of tags are negative (-id): captions and answers use the
    # non-negative ones (2*id, 2*id+1), so the triggers still delete by rowid.
    run_script(
        db,
        """
        CREATE TABLE tags (
            id INTEGER PRIMARY KEY,
            photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            value TEXT NOT NULL,
            source TEXT NOT NULL,  -- the plugin or stage that produced it
            model TEXT NOT NULL,   -- its model and version
            score REAL,
            UNIQUE (photo_id, source, value)
        );
        CREATE INDEX tags_value ON tags(value);
        CREATE TRIGGER tags_ai AFTER INSERT ON tags BEGIN
            INSERT INTO text_fts(rowid, text, photo_id, source)
            VALUES (-new.id, new.value, new.photo_id, 'tag');
        END;
        CREATE TRIGGER tags_ad AFTER DELETE ON tags BEGIN
            DELETE FROM text_fts WHERE rowid = -old.id;
        END;
        CREATE TRIGGER tags_au AFTER UPDATE OF value ON tags BEGIN
            UPDATE text_fts SET text = new.value WHERE rowid = -old.id;
        END;

        -- The sharpness plugin used to store "blurry" as a fake VQA answer
        -- ("yes, blurry (15)"), which metadata wrote as a keyword: make those tags.
        INSERT OR IGNORE INTO tags (photo_id, value, source, model, score)
        SELECT photo_id, 'blurry', 'sharpness', model,
               CAST(rtrim(substr(answer, instr(answer, '(') + 1), ')') AS REAL)
        FROM answers WHERE model LIKE 'photod-sharpness/%' AND answer LIKE 'yes, blurry%';
        DELETE FROM answers WHERE model LIKE 'photod-sharpness/%';
        """,
    )


def _m0005_detection_boxes(db: sqlite_utils.Database) -> None:
    # Where a pet or object head found its concept (normalised x, y, w, h in the oriented
    # image); NULL for person detections, whose box is their face's. Metadata rewritten from
    # the index then carries the same regions as the first write.
    run_script(
        db,
        """
        ALTER TABLE detections ADD COLUMN x REAL;
        ALTER TABLE detections ADD COLUMN y REAL;
        ALTER TABLE detections ADD COLUMN w REAL;
        ALTER TABLE detections ADD COLUMN h REAL;
        """,
    )


def _m0006_web(db: sqlite_utils.Database) -> None:
    # The web app's library grid reads photos newest first (a NULL date sorts last in DESC);
    # faces the user marked "not a face" are kept by content and box, so a re-run of the
    # photo (which replaces its faces rows) still knows them: never clustered, never named.
    run_script(
        db,
        """
        CREATE INDEX photos_taken ON photos(taken_at DESC, id DESC);
        CREATE TABLE not_faces (
            content_hash TEXT NOT NULL,
            model TEXT NOT NULL,
            x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
            marked_at REAL NOT NULL,
            PRIMARY KEY (content_hash, model, x, y)
        );
        """,
    )


def _m0007_search_index(db: sqlite_utils.Database) -> None:
    # Everything photod knows about a photo becomes searchable (photod.index.search_schema).
    run_script(db, SEARCH_SCHEMA)
    backfill(db)


def _m0008_not_concepts(db: sqlite_utils.Database) -> None:
    # "This is not Alice" on a photo: the heads never name her on that content again.
    run_script(
        db,
        """
        CREATE TABLE not_concepts (
            content_hash TEXT NOT NULL,
            concept_id INTEGER NOT NULL REFERENCES concepts(id) ON DELETE CASCADE,
            marked_at REAL NOT NULL,
            PRIMARY KEY (content_hash, concept_id)
        );
        """,
    )


def _m0009_rec_box_source(db: sqlite_utils.Database) -> None:
    # Which component produced a pet's or object's box: the head that fired ("head") or a
    # grounding VLM asked where the concept is ("vlm"); boxes stored before were the head's.
    run_script(
        db,
        """
        ALTER TABLE detections ADD COLUMN box_source TEXT;
        UPDATE detections SET box_source = 'head' WHERE x IS NOT NULL;
        """,
    )


MIGRATIONS: list[Migration] = [
    ("0001_initial", _m0001_initial),
    ("0002_concepts", _m0002_concepts),
    ("0003_example_captions", _m0003_example_captions),
    ("0004_tags", _m0004_tags),
    ("0005_detection_boxes", _m0005_detection_boxes),
    ("0006_web", _m0006_web),
    ("0007_search_index", _m0007_search_index),
    ("0008_not_concepts", _m0008_not_concepts),
    ("0009_rec_box_source", _m0009_rec_box_source),
]


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    """Names of the migrations already applied, in order."""
    if "_migrations" not in db.table_names():
        return []
    return [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]


def migrate(db: sqlite_utils.Database, migrations: list[Migration] | None = None) -> list[str]:
    """Apply the pending migrations; return their names."""
    migrations = MIGRATIONS if migrations is None else migrations
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    done = set(applied_migrations(db))
    applied = []
    for name, fn in migrations:
        if name in done:
            continue
        conn = db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the lock.
            if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                conn.execute("COMMIT")
                continue
            fn(db)
            conn.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))
            count = conn.execute("SELECT count(*) FROM _migrations").fetchone()[0]
            conn.execute(f"PRAGMA user_version = {int(count)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


def schema_version(db: sqlite_utils.Database) -> int:
    """The number of migrations applied (``PRAGMA user_version``)."""
    return db.execute("PRAGMA user_version").fetchone()[0]
