"""The query language: what parses into what, and what is refused with which message."""

from __future__ import annotations

import pytest

from photod.search.query import AnyOf, Filter, Phrase, QueryError, Word, from_argv, parse


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        ("alice", (Word("alice"),)),
        ("alice  beach", (Word("alice"), Word("beach"))),
        ('"red mug"', (Phrase("red mug"),)),
        ('x -"red mug"', (Word("x"), Phrase("red mug", negated=True))),
        ("beach -rain", (Word("beach"), Word("rain", negated=True))),
        ("beach OR lake", (AnyOf((Word("beach"), Word("lake"))),)),
        ("a OR b OR c d", (AnyOf((Word("a"), Word("b"), Word("c"))), Word("d"))),
        ("beach or lake", (Word("beach"), Word("or"), Word("lake"))),  # OR is upper case
        ('"OR"', (Phrase("OR"),)),
        ("person:Alice", (Filter("person", ("Alice",)),)),
        ("PERSON:Alice", (Filter("person", ("Alice",)),)),
        ('person:"Grandpa Joe"', (Filter("person", ("Grandpa Joe",)),)),
        ("x -person:Bob", (Word("x"), Filter("person", ("Bob",), negated=True))),
        ("pet:Rex object:mug", (Filter("pet", ("Rex",)), Filter("object", ("mug",)))),
        ("with:Alice,Bob", (Filter("with", ("Alice", "Bob")),)),
        ("only:Alice, x", (Filter("only", ("Alice",)), Word("x"))),
        ('only:"Alice,Grandpa Joe"', (Filter("only", ("Alice", "Grandpa Joe")),)),
        ("tag:blurry", (Filter("tag", ("blurry",)),)),
        ("after:2023", (Filter("after", ("2023",)),)),
        ("after:2023-06 before:2024-02-29", (Filter("after", ("2023-06",)),
                                             Filter("before", ("2024-02-29",)))),
        ("in:Holidays", (Filter("in", ("Holidays",)),)),
        ("in:/photos/2023", (Filter("in", ("/photos/2023",)),)),
        ("camera:x100 lens:23mm", (Filter("camera", ("x100",)), Filter("lens", ("23mm",)))),
        ("near:lisbon", (Filter("near", ("lisbon",)),)),
        ("cluster:3", (Filter("cluster", ("3",)),)),
        ("12:30", (Word("12:30"),)),  # a time, not a filter
        ('"note: this"', (Phrase("note: this"),)),  # a quoted colon is text
        ("beac*", (Word("beac*"),)),
        ("person:Alice OR pet:Rex", (AnyOf((Filter("person", ("Alice",)),
                                            Filter("pet", ("Rex",)))),)),
        ("x -y OR z", (Word("x"), AnyOf((Word("y", negated=True), Word("z"))))),
    ],
)  # fmt: skip
def test_parses(text, clauses):
    assert parse(text).clauses == clauses


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty query"),
        ("   ", "empty query"),
        ("foo:bar", "unknown filter foo: in 'foo:bar'"),
        ("person:", "person: needs a person's name"),
        ('person:""', "person: needs a person's name"),
        ("after:23", "after:23: expected a date as YYYY, YYYY-MM or YYYY-MM-DD"),
        ("after:2023-13", "after:2023-13: no such date"),
        ("before:2023-02-30", "before:2023-02-30: no such date"),
        ("before:june", "before:june: expected a date"),
        ('"red mug', "unclosed quote in '\"red mug'"),
        ('person:"Grandpa', "unclosed quote"),
        ("OR beach", "OR needs a term on each side"),
        ("beach OR", "OR needs a term on each side"),
        ("a OR OR b", "OR needs a term on each side"),
        ("- beach", "'-' must be followed by a word or a filter"),
        ("-rain", "a query needs something to find, not only exclusions"),
        ("-person:Bob -rain", "not only exclusions"),
        ("-with:A,B", "-with: cannot be negated"),
        ("-only:A", "-only: cannot be negated"),
        ("with:,", "with:,: needs names separated by commas"),
        ("cluster:x", "cluster:x: needs a face cluster number"),
    ],
)
def test_malformed_queries_name_the_bad_part(text, message):
    with pytest.raises(QueryError) as err:
        parse(text)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_fts_syntax_is_plain_text():
    # FTS5 operators and punctuation are words like any other to the parser; the index
    # quotes them (tests/index/test_search_index.py).
    query = parse("AND NOT NEAR( {x} ^y")
    assert [t.text for t in query.terms()] == ["AND", "NOT", "NEAR(", "{x}", "^y"]


def test_free_text_is_what_semantic_search_encodes():
    query = parse('person:Alice "red mug" beach OR lake -rain after:2020')
    assert query.free_text() == "red mug beach lake"
    assert query.has_words
    assert not parse("person:Alice after:2020").has_words


def test_command_line_arguments_keep_filter_values_together():
    assert from_argv(["person:Grandpa Joe", "beach"]) == 'person:"Grandpa Joe" beach'
    assert from_argv(["-person:Grandpa Joe"]) == '-person:"Grandpa Joe"'
    assert from_argv(["red mug"]) == "red mug"  # two words, as the shell passed them
    assert from_argv(['"red mug"', "x"]) == '"red mug" x'
    assert from_argv(["note:a b"]) == "note:a b"  # not a filter: left for the parser
    assert parse(from_argv(["in:Holidays 2023"])).clauses == (Filter("in", ("Holidays 2023",)),)
