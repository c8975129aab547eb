"""Running a search plan against the index: the SQL behind ``photod search``.

A :class:`Plan` is a list of clauses that must all hold; a clause is one :class:`Condition`
or a tuple of them of which one must hold (OR). :mod:`photod.search.engine` builds plans from
parsed queries; this module alone turns them into SQL. User text never reaches FTS5 as
syntax: every word is reduced to its letters and digits and double-quoted.

Ranking is bounded: only the ``bound`` most recently indexed photos that match are scored
(``ORDER BY rowid DESC LIMIT``), not every match of a common word. The score is BM25's
term-frequency part, per column and weighted, from FTS5's own highlighting of the matched
words; FTS5's ``bm25()`` is not used because it counts every match of each word (its idf) on
every query: 50 ms for a word in most of a million photos. Within one AND query every
candidate holds every word, so the idf left out would not reorder them much. Words match by
their Porter stem; prefix matching is asked for with a star (``beac*``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import sqlite_utils

from photod.index.search_schema import COLUMNS

#: Condition kinds matched through the full-text document, and the column each one reads.
FTS_KINDS = {
    "word": None,
    "phrase": None,
    "place": "place",
    "folder": "folder",
    "camera": "camera",
    "lens": "lens",
}
#: Weight of a match in each column: a name or a tag says more than a caption word.
WEIGHTS = {"names": 10.0, "tags": 5.0, "text": 1.0, "place": 4.0, "folder": 2.0, "file": 2.0,
           "camera": 2.0, "lens": 2.0, "date": 2.0}  # fmt: skip
#: The columns scored (a match elsewhere, a folder or a date word, gets the floor score), and
#: their typical length in words (BM25's length normalisation).
SCORED = {"names": 2.0, "tags": 3.0, "text": 12.0, "place": 4.0}
_K1, _B, _FLOOR = 1.2, 0.75, 0.01
#: When a plan's other conditions leave at most this many photos (``with:A,B beach``), FTS5
#: checks those photos one by one instead of walking every match of a common word.
SEEK_LIMIT = 200
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Condition:
    """One condition on a photo; ``negated``: the photo must not meet it.

    Kinds: ``word`` and ``phrase`` (anywhere in the document), ``place``, ``folder``,
    ``camera``, ``lens`` (in that field), ``under`` (a path prefix), ``concept`` (values:
    its id, its name), ``only`` (values: the ids of every person in the photo), ``tag``,
    ``after`` / ``before`` (an ISO date prefix), ``cluster`` (an unnamed face cluster's id).
    """

    kind: str
    values: tuple[str, ...]
    negated: bool = False


Clause = Condition | tuple[Condition, ...]


@dataclass
class Plan:
    """Clauses that must all hold."""

    clauses: list[Clause] = field(default_factory=list)


@dataclass
class PhotoSummary:
    """What a search result shows of a photo."""

    photo_id: int
    path: str
    taken_at: str | None
    place: str | None
    camera: str | None
    lens: str | None
    found: list[tuple[str, str]] = field(default_factory=list)  # (kind, name)
    tags: list[tuple[str, str]] = field(default_factory=list)  # (value, source)
    captions: list[dict] = field(default_factory=list)  # text, model, concept_versions
    snippet: str | None = None
    #: Words the query matched, by column (names, tags, place, camera, lens), casefolded.
    matched: dict[str, set[str]] = field(default_factory=dict)


def fts_term(condition: Condition) -> str | None:
    """The condition as a safe FTS5 expression, or None when its text has no word in it."""
    tokens = _WORD.findall(condition.values[0])
    if not tokens:
        return None
    # Words match by their stem ("beaches" finds beach); as a prefix only when asked
    # ("beac*"), since FTS5 gathers every match of a prefix before it can stop at a bound.
    # A camera or lens is named by a prefix of its model ("x100" for the X100V).
    prefix = condition.kind in ("camera", "lens") or condition.values[0].endswith("*")
    star = "*" if prefix else ""
    term = '"' + " ".join(tokens) + '"' + star
    column = FTS_KINDS[condition.kind]
    return f"{{{column}}} : {term}" if column else term


def _is_match(clause: Clause) -> bool:
    items = clause if isinstance(clause, tuple) else (clause,)
    return all(c.kind in FTS_KINDS and not c.negated for c in items)


def _match_expr(clause: Clause) -> str | None:
    items = clause if isinstance(clause, tuple) else (clause,)
    terms = [t for t in (fts_term(c) for c in items) if t]
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"


def _predicate(c: Condition) -> tuple[str, list]:
    """SQL over ``p`` (photos) for one condition, without its negation."""
    if c.kind in FTS_KINDS:
        term = fts_term(c)
        if term is None:  # no word in it: nothing to find
            return "0", []
        return "p.id IN (SELECT rowid FROM photo_fts WHERE photo_fts MATCH ?)", [term]
    if c.kind == "concept":
        return "p.id IN (SELECT photo_id FROM detections WHERE concept_id = ?)", [int(c.values[0])]
    if c.kind == "only":
        # Every face in the photo is one of these people (each is asked for on its own).
        return (
            "NOT EXISTS (SELECT 1 FROM faces f WHERE f.photo_id = p.id AND NOT EXISTS "
            "(SELECT 1 FROM detections d WHERE d.face_id = f.id "
            "AND d.concept_id IN (SELECT value FROM json_each(?))))",
            [json.dumps([int(v) for v in c.values])],
        )
    if c.kind == "tag":
        return "p.id IN (SELECT photo_id FROM tags WHERE value = ? COLLATE NOCASE)", [c.values[0]]
    if c.kind == "after":
        return "p.taken_at >= ?", [c.values[0]]
    if c.kind == "before":
        return "p.taken_at < ?", [c.values[0]]
    if c.kind == "under":
        top = c.values[0].rstrip("/")
        return "(p.path >= ? AND p.path < ?)", [top + "/", top + "0"]  # "0" follows "/"
    if c.kind == "cluster":
        return (
            "p.id IN (SELECT f.photo_id FROM face_clusters k JOIN faces f ON f.id = k.face_id "
            "WHERE k.cluster_id = ?)",
            [int(c.values[0])],
        )
    raise ValueError(f"unknown condition kind {c.kind!r}")


def _sql(clause: Clause) -> tuple[str, list]:
    items = clause if isinstance(clause, tuple) else (clause,)
    parts, params = [], []
    for c in items:
        sql, args = _predicate(c)
        parts.append(f"NOT ({sql})" if c.negated else sql)
        params += args
    return (parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"), params


def compile_plan(plan: Plan) -> tuple[str | None, str, list]:
    """(FTS5 MATCH expression or None, SQL conditions on ``p``, their parameters)."""
    match_terms, where, params = [], ["p.status != 'missing'"], []
    for clause in plan.clauses:
        if _is_match(clause):
            expr = _match_expr(clause)
            if expr is None:
                where.append("0")  # a clause with nothing to match matches nothing
            else:
                match_terms.append(expr)
            continue
        sql, args = _sql(clause)
        where.append(sql)
        params += args
    return (" AND ".join(match_terms) or None), " AND ".join(where), params


def _bounded(where: str, columns: str) -> str:
    # FTS5 walks the matches newest first and stops after ``bound`` that meet the filters:
    # the cost follows the bound, not the number of matches.
    return (
        f"SELECT {columns} FROM photo_fts f JOIN photos p ON p.id = f.rowid "
        f"WHERE photo_fts MATCH ? AND {where} ORDER BY f.rowid DESC LIMIT ?"
    )


def _score(columns: list[str | None]) -> float:
    """BM25's term-frequency part over the highlighted columns (matches marked \\x02)."""
    score = _FLOOR
    for (name, typical), text in zip(SCORED.items(), columns, strict=True):
        tf = (text or "").count("\x02")
        if tf:
            norm = 1 - _B + _B * len(_WORD.findall(text)) / typical
            score += WEIGHTS[name] * tf * (_K1 + 1) / (tf + _K1 * norm)
    return score


def _few(db: sqlite_utils.Database, where: str, params: list) -> list[int] | None:
    """The photos meeting the conditions besides the words, if there are few; else None.

    Only conditions on tables (concepts, tags, dates, folders) are probed: one that runs a
    full-text query of its own (a negated word) could cost what the probe is to save.
    """
    if params == [] or "photo_fts" in where:
        return None
    rows = db.conn.execute(
        f"SELECT p.id FROM photos p WHERE {where} LIMIT ?", [*params, SEEK_LIMIT + 1]
    ).fetchall()
    return [r[0] for r in rows] if len(rows) <= SEEK_LIMIT else None


def ranked(db: sqlite_utils.Database, plan: Plan, bound: int) -> list[tuple[int, float]]:
    """(photo id, relevance) of the matching photos, best first (see the module docstring).

    Only the ``bound`` most recently indexed matches are scored; ties go to the newer photo.
    A plan whose words are all inside ORs with filters (``beach OR person:Alice``) has no
    text to score: its photos come newest taken first, with the lowest score.
    """
    match, where, params = compile_plan(plan)
    if match is None:
        return [(pid, _FLOOR) for pid in by_date(db, plan, bound, bound)]
    marks = ", ".join(f"highlight(photo_fts, {COLUMNS.index(c)}, char(2), char(3))" for c in SCORED)
    few = _few(db, where, params)
    if few is None:
        rows = db.conn.execute(_bounded(where, f"f.rowid, {marks}"), [match, *params, bound])
    else:
        rows = db.conn.execute(
            f"SELECT f.rowid, {marks} FROM photo_fts f WHERE photo_fts MATCH ? "
            "AND f.rowid IN (SELECT value FROM json_each(?))",
            [match, json.dumps(few)],
        )
    scored = [(pid, round(_score(cols), 6)) for pid, *cols in rows]
    return sorted(scored, key=lambda r: (-r[1], -r[0]))


def by_date(db: sqlite_utils.Database, plan: Plan, limit: int, bound: int) -> list[int]:
    """Ids of up to ``limit`` photos meeting the plan, newest taken first (undated last).

    A plan with a full-text clause (``camera:``, ``near:``, ``in:``) orders the ``bound``
    most recently indexed photos that meet it.
    """
    match, where, params = compile_plan(plan)
    if match is not None:
        sql = _bounded(where, "p.id AS id, p.taken_at AS taken_at")
        sql = f"SELECT id FROM ({sql}) ORDER BY taken_at DESC, id DESC LIMIT ?"
        params = [match, *params, bound]
    else:
        sql = f"SELECT p.id FROM photos p WHERE {where} ORDER BY p.taken_at DESC, p.id DESC LIMIT ?"
    return [r[0] for r in db.conn.execute(sql, [*params, limit])]


def keep(db: sqlite_utils.Database, plan: Plan, ids: list[int]) -> set[int]:
    """Those of ``ids`` that meet the plan."""
    match, where, params = compile_plan(plan)
    if match is not None:
        where += " AND p.id IN (SELECT rowid FROM photo_fts WHERE photo_fts MATCH ?)"
        params = [*params, match]
    rows = db.conn.execute(
        f"SELECT p.id FROM photos p WHERE p.id IN (SELECT value FROM json_each(?)) AND {where}",
        [json.dumps(ids), *params],
    )
    return {r[0] for r in rows}
