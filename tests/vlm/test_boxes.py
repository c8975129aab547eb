"""The grounding answer parser: one well-formed in-range box is kept, anything else dropped
with a reason (a wrong region in a photo's metadata is worse than none)."""

from __future__ import annotations

import logging

import pytest

from photod.vlm.boxes import box_or_none, parse_box


@pytest.mark.parametrize(
    ("text", "box"),
    [
        ("{<10><20><50><80>}", (0.1, 0.2, 0.4, 0.6)),  # MiniGPT-v2, 0-100 grid
        ("{ <10> <20> <50> <80> }", (0.1, 0.2, 0.4, 0.6)),  # decoded with spaces
        ("<p>rex</p> {<0><0><100><100>}", (0.0, 0.0, 1.0, 1.0)),  # MiniGPT-v2's phrase tag
        ("[10, 20, 50, 80]", (0.1, 0.2, 0.4, 0.6)),
        ("the dog is at [10,20,50,80].", (0.1, 0.2, 0.4, 0.6)),
        ("[0.1, 0.2, 0.5, 0.8]", (0.1, 0.2, 0.4, 0.6)),  # fractions of the image
        ("{<12.5><20><50><80>}", (0.125, 0.2, 0.375, 0.6)),
    ],
)
def test_well_formed_boxes(text: str, box: tuple) -> None:
    parsed = parse_box(text)
    assert parsed.reason is None and parsed.box == pytest.approx(box)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "no box"),
        ("none", "no box"),
        ("rex is not in the photo", "no box"),
        ("left", "no box"),
        ("{<10><20><50>}", "malformed"),  # three corners
        ("{<10><20><50><80><90>}", "malformed"),  # five
        ("{<10><20><50><80>", "malformed"),  # unclosed
        ("{<10><20><50><8", "malformed"),  # cut off by max_new_tokens
        ("[10, 20, 50]", "malformed"),
        ("[10, 20, 50, 80, 90]", "malformed"),
        ("[10; 20; 50; 80]", "malformed"),
        ("{<a><b><c><d>}", "no box"),
        ("{<10><20><150><80>}", "outside"),
        ("{<-5><20><50><80>}", "outside"),
        ("[10, 20, 500, 80]", "outside"),
        ("[0.1, 0.2, 1.5, 0.8]", "outside"),  # decimals: fractions of the image
        ("[12.5, 20, 50, 80]", "outside"),
        ("{<50><20><10><80>}", "inverted"),  # x1 < x0
        ("{<10><80><50><20>}", "inverted"),
        ("{<10><20><10><80>}", "empty"),  # zero width
        ("{<10><20><50><80>}{<60><20><90><80>}", "2 boxes"),
        ("[1, 2, 3, 4] or {<10><20><50><80>}", "2 boxes"),
    ],
)
def test_malformed_or_out_of_range_boxes_are_dropped_with_a_reason(text: str, why: str) -> None:
    parsed = parse_box(text)
    assert parsed.box is None and why in parsed.reason


def test_another_grid() -> None:
    assert parse_box("[100, 200, 500, 800]", grid=1000).box == pytest.approx((0.1, 0.2, 0.4, 0.6))
    assert parse_box("{<10><20><50><80>}", grid=1000).box == pytest.approx((0.01, 0.02, 0.04, 0.06))


def test_a_dropped_box_is_logged(caplog) -> None:
    with caplog.at_level(logging.INFO, logger="photod.vlm.boxes"):
        assert box_or_none("{<50><20><10><80>}", 100, "rex in a.jpg") is None
    assert "no box for rex in a.jpg: empty or inverted" in caplog.text
