"""Running a search plan against the index: the SQL behind ``photod search``.

A :class:`Plan` is a list of clauses that must all hold; a clause is one :class:`Condition`
or a tuple of them of which one must hold (OR). :mod:`photod.search.engine` builds plans from
parsed queries; this module alone turns them into SQL. User text never reaches FTS5 as
syntax: every word is reduced to its letters and digits and double-quoted.

Ranking is bounded: FTS5 computes bm25 only for the ``bound`` most recently indexed photos
that match (``ORDER BY rowid DESC LIMIT``), not for every match of a common word.
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
#: bm25 weight of each column: a name or a tag that matches says more than a caption word.
WEIGHTS = {"names": 10.0, "tags": 5.0, "text": 1.0, "place": 4.0, "folder": 2.0, "file": 2.0,
           "camera": 2.0, "lens": 2.0, "date": 2.0}  # fmt: skip
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Condition:
    """One condition on a photo; ``negated``: the photo must not meet it.

    Kinds: ``word`` and ``phrase`` (anywhere in the document), ``place``, ``folder``,
    ``camera``, ``lens`` (in that field), ``under`` (a path prefix), ``concept`` (values:
    kind or "", name), ``only`` (values: the names of every person in the photo), ``tag``,
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


def fts_term(condition: Condition) -> str | None:
    """The condition as a safe FTS5 expression, or None when its text has no word in it."""
    tokens = _WORD.findall(condition.values[0])
    if not tokens:
        return None
    # A typed word matches as a prefix ("beac" finds beach); a quoted phrase or a folder
    # name matches exactly.
    star = "" if condition.kind in ("phrase", "folder") else "*"
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
        kind, name = c.values
        return (
            "p.id IN (SELECT d.photo_id FROM detections d JOIN concepts c ON c.id = d.concept_id "
            "WHERE (? = '' OR c.kind = ?) AND (c.name = ? COLLATE NOCASE "
            "OR c.identifier = ? COLLATE NOCASE))",
            [kind, kind, name, name],
        )
    if c.kind == "only":
        names = json.dumps([n.lower() for n in c.values])
        # Every face in the photo is one of these people (and each of them is there).
        return (
            "NOT EXISTS (SELECT 1 FROM faces f WHERE f.photo_id = p.id AND NOT EXISTS "
            "(SELECT 1 FROM detections d JOIN concepts c ON c.id = d.concept_id "
            "WHERE d.face_id = f.id AND lower(c.name) IN (SELECT value FROM json_each(?))))",
            [names],
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


def ranked(db: sqlite_utils.Database, plan: Plan, bound: int) -> list[tuple[int, float]]:
    """(photo id, relevance) of the matching photos, best first; relevance is -bm25.

    Only the ``bound`` most recently indexed matches are scored (see the module docstring).
    The plan must hold a full-text clause.
    """
    match, where, params = compile_plan(plan)
    if match is None:
        raise ValueError("ranked() needs a plan with words to match")
    weights = ", ".join(str(WEIGHTS[c]) for c in COLUMNS)
    rows = db.conn.execute(
        f"SELECT f.rowid, bm25(photo_fts, {weights}) FROM photo_fts f "
        f"JOIN photos p ON p.id = f.rowid WHERE photo_fts MATCH ? AND {where} "
        "ORDER BY f.rowid DESC LIMIT ?",
        [match, *params, bound],
    ).fetchall()
    return sorted(((pid, -score) for pid, score in rows), key=lambda r: (-r[1], -r[0]))


def by_date(db: sqlite_utils.Database, plan: Plan, limit: int) -> list[int]:
    """Ids of up to ``limit`` photos meeting the plan, newest taken first (undated last)."""
    match, where, params = compile_plan(plan)
    if match is not None:
        where += " AND p.id IN (SELECT rowid FROM photo_fts WHERE photo_fts MATCH ?)"
        params = [*params, match]
    rows = db.conn.execute(
        f"SELECT p.id FROM photos p WHERE {where} ORDER BY p.taken_at DESC, p.id DESC LIMIT ?",
        [*params, limit],
    )
    return [r[0] for r in rows]


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
