"""The one query language of ``photod search`` and the web app, parsed into a typed AST.

    alice beach                     every word, anywhere (names, tags, captions, places...)
    "red mug"                       a phrase
    beach OR lake                   either
    -rain  -person:Bob              not
    person:Alice pet:Rex object:mug a concept the heads found (name or identifier)
    with:Alice,Bob  only:Alice,Bob  at least / exactly these people
    tag:blurry                      a tag (plugin, concept, short answer)
    after:2023-06  before:2024      taken from / before the start of that year, month or day
    in:Holidays  in:/photos/2023    a folder name, or a folder path
    camera:x100  lens:23mm          camera make and model, lens
    near:lisbon                     the place (town, region, country) of the GPS position
    cluster:3                       an unnamed face cluster (``photod faces clusters``)

A malformed query raises :class:`QueryError`, whose message names the bad part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from photod.errors import PhotodError

#: Filter keys, and what each takes.
FILTERS = {
    "person": "a person's name",
    "pet": "a pet's name",
    "object": "an object's name",
    "with": "names separated by commas",
    "only": "people's names separated by commas",
    "tag": "a tag",
    "after": "a date: YYYY, YYYY-MM or YYYY-MM-DD",
    "before": "a date: YYYY, YYYY-MM or YYYY-MM-DD",
    "in": "a folder name or path",
    "camera": "a camera make or model",
    "lens": "a lens",
    "near": "a place name",
    "cluster": "a face cluster number",
}
_KEY = re.compile(r"([A-Za-z]+):(.*)", re.DOTALL)
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


class QueryError(PhotodError):
    """A query that cannot be parsed; the message names the bad part."""


@dataclass(frozen=True)
class Word:
    """A word to find anywhere in what photod knows of a photo (matches as a prefix)."""

    text: str
    negated: bool = False


@dataclass(frozen=True)
class Phrase:
    """Words to find together, in this order."""

    text: str
    negated: bool = False


@dataclass(frozen=True)
class Filter:
    """``key:value``; ``values`` holds one value, or several for ``with:`` and ``only:``.

    Dates are normalised to an ISO prefix ("2023-06").
    """

    key: str
    values: tuple[str, ...]
    negated: bool = False


Term = Word | Phrase | Filter


@dataclass(frozen=True)
class AnyOf:
    """``a OR b OR c``: one of the terms must hold."""

    terms: tuple[Term, ...]


Clause = Term | AnyOf


@dataclass(frozen=True)
class Query:
    """A parsed query: clauses that must all hold."""

    clauses: tuple[Clause, ...]
    text: str

    def terms(self) -> list[Term]:
        """Every term, those inside OR groups too."""
        out: list[Term] = []
        for c in self.clauses:
            out += list(c.terms) if isinstance(c, AnyOf) else [c]
        return out

    def free_text(self) -> str:
        """The words and phrases that are not negated (what semantic search encodes)."""
        return " ".join(
            t.text for t in self.terms() if isinstance(t, Word | Phrase) and not t.negated
        )

    @property
    def has_words(self) -> bool:
        """Whether any word or phrase is to be found (not only filters or negations)."""
        return bool(self.free_text())


def _tokens(text: str) -> list[tuple[str, bool]]:
    """(token, is a phrase) pairs: a token that opens with a quote (or ``-"``) is a phrase;
    ``key:"a b"`` stays one token. Quotes are removed."""
    out: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start, buf = i, ""
        phrase = text.startswith('"', i) or text.startswith('-"', i)
        while i < n and not text[i].isspace():
            if text[i] == '"':
                end = text.find('"', i + 1)
                if end < 0:
                    raise QueryError(f"unclosed quote in {text[start:].strip()!r}")
                buf += text[i + 1 : end]
                i = end + 1
            else:
                buf += text[i]
                i += 1
        out.append((buf, phrase))
    return out


def parse_date(key: str, value: str) -> str:
    """``2023``, ``2023-06`` or ``2023-06-14`` checked and returned as is."""
    m = _DATE.fullmatch(value)
    if m is None:
        raise QueryError(f"{key}:{value}: expected a date as YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = m.groups()
    try:
        date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        raise QueryError(f"{key}:{value}: no such date") from None
    return value


def _filter(key: str, value: str, negated: bool) -> Filter:
    raw = f"{key}:{value}"
    key = key.lower()
    if key not in FILTERS:
        raise QueryError(f"unknown filter {key}: in {raw!r} (known: {', '.join(FILTERS)})")
    value = value.strip()
    if not value:
        raise QueryError(f"{key}: needs {FILTERS[key]}")
    if key in ("with", "only"):
        if negated:
            raise QueryError(f"-{key}: cannot be negated; use -person:NAME for each")
        names = tuple(v.strip() for v in value.split(",") if v.strip())
        if not names:
            raise QueryError(f"{raw}: needs {FILTERS[key]}")
        return Filter(key, names)
    if key in ("after", "before"):
        value = parse_date(key, value)
    if key == "cluster" and not value.isdigit():
        raise QueryError(f"{raw}: needs {FILTERS[key]}")
    return Filter(key, (value,), negated)


def _term(token: str, phrase: bool) -> Term:
    negated = token.startswith("-") and len(token) > 1
    body = token[1:] if negated else token
    if token == "-":
        raise QueryError("'-' must be followed by a word or a filter (no space after it)")
    if phrase:
        return Phrase(body, negated)
    m = _KEY.fullmatch(body)
    if m:
        return _filter(m.group(1), m.group(2), negated)
    return Word(body, negated)


def parse(text: str) -> Query:
    """Parse ``text`` into a :class:`Query`; raise :class:`QueryError` if it is malformed."""
    tokens = _tokens(text)
    clauses: list[list[Term]] = []
    expect_operand = False
    for token, phrase in tokens:
        if token == "OR" and not phrase:
            if not clauses or expect_operand:
                raise QueryError("OR needs a term on each side")
            expect_operand = True
            continue
        term = _term(token, phrase)
        if expect_operand:
            clauses[-1].append(term)
            expect_operand = False
        else:
            clauses.append([term])
    if expect_operand:
        raise QueryError("OR needs a term on each side")
    if not clauses:
        raise QueryError("empty query: give words or filters (see `photod search --help`)")
    if all(t.negated for group in clauses for t in group):
        raise QueryError("a query needs something to find, not only exclusions")
    return Query(
        tuple(group[0] if len(group) == 1 else AnyOf(tuple(group)) for group in clauses), text
    )


def from_argv(args: tuple[str, ...] | list[str]) -> str:
    """Rebuild the query text from command-line arguments. A filter whose value the shell
    unquoted (``'person:Grandpa Joe'``) is quoted again; other arguments are taken as typed
    (``photod search "red mug"`` looks for both words; ``'"red mug"'`` for the phrase)."""
    out = []
    for arg in args:
        neg = "-" if arg.startswith("-") else ""
        m = _KEY.fullmatch(arg[len(neg) :])
        spaced = m is not None and any(ch.isspace() for ch in m.group(2))
        if m and spaced and m.group(1).lower() in FILTERS and '"' not in arg:
            arg = f'{neg}{m.group(1)}:"{m.group(2)}"'
        out.append(arg)
    return " ".join(out)
