"""Search results users can act on: who is in each photo, and why it matched.

:meth:`SearchResults.to_json` is the stable schema of ``photod search --json`` (documented
in docs/search.md); fields are only ever added to it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from photod.index.search import Condition, PhotoSummary, Plan

SCHEMA_VERSION = 1
_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass
class Reason:
    """One reason a photo matched: ``field`` (person, pet, object, tag, place, camera, lens,
    snippet, folder, date, semantic) and the value that matched."""

    field: str
    value: str


@dataclass
class Result:
    """One photo found."""

    photo_id: int
    path: str
    score: float
    taken_at: str | None
    people: list[str]
    pets: list[str]
    objects: list[str]
    tags: list[str]
    place: str | None
    camera: str | None
    lens: str | None
    snippet: str | None
    matched: list[Reason]
    captions: list[dict]
    similarity: float | None = None


@dataclass
class SearchResults:
    """The results of one query, best first, and notes for the user (said once)."""

    query: str
    mode: str
    results: list[Result]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The documented JSON form."""
        return {
            "version": SCHEMA_VERSION,
            "query": self.query,
            "mode": self.mode,
            "notes": self.notes,
            "count": len(self.results),
            "results": [asdict(r) for r in self.results],
        }


def _words(text: str) -> set[str]:
    return {w.casefold() for w in _TOKEN.findall(text)}


def _conditions(plan: Plan) -> list[Condition]:
    out = []
    for clause in plan.clauses:
        items = clause if isinstance(clause, tuple) else (clause,)
        out += [c for c in items if not c.negated]
    return out


def explain(
    photo: PhotoSummary, score: float, plan: Plan, similarity: float | None = None
) -> Result:
    """The result for ``photo``, with the reasons the plan matched it."""
    conds = _conditions(plan)
    hit = photo.matched  # the words FTS5 matched in each field
    reasons: list[Reason] = []
    by_kind: dict[str, list[str]] = {"person": [], "pet": [], "object": []}
    named = {c.values[1].casefold() for c in conds if c.kind == "concept"}
    for kind, name in photo.found:
        by_kind.setdefault(kind, []).append(name)
        if name.casefold() in named or _words(name) & hit.get("names", set()):
            reasons.append(Reason(kind, name))
    tag_filters = {c.values[0].casefold() for c in conds if c.kind == "tag"}
    tags = list(dict.fromkeys(value for value, _ in photo.tags))
    for value in tags:
        if value.casefold() in tag_filters or _words(value) & hit.get("tags", set()):
            reasons.append(Reason("tag", value))
    fields = {"place": photo.place, "camera": photo.camera, "lens": photo.lens}
    for name, value in fields.items():
        if value and name in hit:
            reasons.append(Reason(name, value))
    if photo.snippet and "[" in photo.snippet:
        reasons.append(Reason("snippet", photo.snippet))
    if any(c.kind in ("folder", "under") for c in conds):
        reasons.append(Reason("folder", photo.path.rsplit("/", 1)[0]))
    if any(c.kind in ("after", "before") for c in conds) and photo.taken_at:
        reasons.append(Reason("date", photo.taken_at))
    if similarity is not None:
        reasons.append(Reason("semantic", f"{similarity:.3f}"))
    return Result(
        photo_id=photo.photo_id,
        path=photo.path,
        score=round(score, 6),
        taken_at=photo.taken_at,
        people=by_kind["person"],
        pets=by_kind["pet"],
        objects=by_kind["object"],
        tags=tags,
        place=photo.place,
        camera=photo.camera,
        lens=photo.lens,
        snippet=photo.snippet,
        matched=list({(r.field, r.value): r for r in reasons}.values()),
        captions=photo.captions,
        similarity=similarity,
    )
