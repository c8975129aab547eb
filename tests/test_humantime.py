"""Human times: units, future and past, never raw numbers."""

from __future__ import annotations

from datetime import datetime

from photod.humantime import duration, moment, relative

NOW = 1_796_284_480.0


def test_durations_use_the_largest_unit_reached():
    assert duration(40) == "40 s"
    assert duration(4 * 60 + 10) == "4 min"
    assert duration(2 * 3600 + 600) == "2 h"
    assert duration(86400) == "1 day"
    assert duration(3 * 86400) == "3 days"


def test_future_and_past_read_differently():
    assert relative(NOW + 300, NOW) == "in 5 min"
    assert relative(NOW - 97, NOW) == "2 min ago"
    assert relative(NOW + 0.4, NOW) == "now"


def test_a_moment_is_a_local_date_and_a_relative_time():
    text = moment(NOW - 7200, NOW)
    assert text == datetime.fromtimestamp(NOW - 7200).strftime("%Y-%m-%d %H:%M") + " (2 h ago)"
    assert moment(None, NOW) == "never" and moment(str(NOW + 60), NOW).endswith("(in 1 min)")
