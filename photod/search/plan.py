"""From a parsed query to the index's search plan, checking the names it uses.

A filter that names a concept photod does not know is an error that lists the known ones,
not an empty result: ``person:Alcie`` is a typo the user should see.
"""

from __future__ import annotations

import os
import re

from photod.index.concepts import Concept
from photod.index.search import Clause, Condition, Plan
from photod.search.query import AnyOf, Filter, Phrase, Query, QueryError, Term, Word

_WORD = re.compile(r"\w", re.UNICODE)
_SIMPLE = {"tag": "tag", "after": "after", "before": "before", "camera": "camera",
           "lens": "lens", "near": "place", "cluster": "cluster"}  # fmt: skip
KINDS = ("person", "pet", "object")
MAX_LISTED = 8  # known names an error lists


def find_concept(concepts: list[Concept], kind: str, name: str, raw: str) -> Concept:
    """The concept of ``kind`` ("": any) named ``name`` (or so identified), case-insensitive;
    else a QueryError about ``raw`` that lists the known names."""
    wanted = name.casefold()
    for c in concepts:
        if (kind == "" or c.kind == kind) and wanted in (
            c.name.casefold(),
            c.identifier.casefold(),
        ):
            return c
    known = sorted(c.name for c in concepts if kind == "" or c.kind == kind)
    listing = ", ".join(known[:MAX_LISTED]) if known else "none yet"
    if len(known) > MAX_LISTED:
        listing += f" and {len(known) - MAX_LISTED} more: `photod concept list`"
    raise QueryError(f"{raw}: no {kind or 'concept'} named {name!r} (known: {listing})")


def _conditions(term: Term, concepts: list[Concept]) -> list[Condition]:
    if isinstance(term, Word | Phrase):
        if not _WORD.search(term.text):
            return []  # punctuation only: nothing FTS could match
        kind = "word" if isinstance(term, Word) else "phrase"
        return [Condition(kind, (term.text,), term.negated)]
    assert isinstance(term, Filter)
    raw = f"{term.key}:{','.join(term.values)}"
    if term.key in KINDS:
        c = find_concept(concepts, term.key, term.values[0], raw)
        return [Condition("concept", (str(c.id), c.name), term.negated)]
    if term.key in ("with", "only"):
        kind = "person" if term.key == "only" else ""
        found = [find_concept(concepts, kind, v, raw) for v in term.values]
        out = [Condition("concept", (str(c.id), c.name)) for c in found]
        if term.key == "only":
            out.append(Condition("only", tuple(str(c.id) for c in found)))
        return out
    if term.key == "in":
        value = term.values[0]
        if value.startswith(("/", "~")):
            return [Condition("under", (os.path.expanduser(value),), term.negated)]
        return [Condition("folder", (value,), term.negated)]
    return [Condition(_SIMPLE[term.key], term.values, term.negated)]


def build_plan(query: Query, concepts: list[Concept]) -> Plan:
    """The index plan of ``query``; ``concepts``: every concept the index knows."""
    clauses: list[Clause] = []
    for clause in query.clauses:
        if isinstance(clause, AnyOf):
            if any(isinstance(t, Filter) and t.key in ("with", "only") for t in clause.terms):
                raise QueryError("with: and only: cannot be part of an OR")
            items = tuple(c for t in clause.terms for c in _conditions(t, concepts))
            if items:
                clauses.append(items if len(items) > 1 else items[0])
        else:
            clauses += _conditions(clause, concepts)
    if not any(not c.negated for c in _flat(clauses)):
        raise QueryError(f"nothing to search for in {query.text!r}")
    return Plan(clauses)


def _flat(clauses: list[Clause]) -> list[Condition]:
    return [c for cl in clauses for c in (cl if isinstance(cl, tuple) else (cl,))]


def without_words(plan: Plan) -> Plan:
    """The plan less its wanted words and phrases (what semantic matches must still meet:
    filters and exclusions)."""

    def wanted_words(clause: Clause) -> bool:
        items = clause if isinstance(clause, tuple) else (clause,)
        return any(c.kind in ("word", "phrase") and not c.negated for c in items)

    return Plan([c for c in plan.clauses if not wanted_words(c)])


def has_text(plan: Plan) -> bool:
    """Whether the plan wants any word or phrase (else results are ordered by date)."""
    return len(without_words(plan).clauses) < len(plan.clauses)
