"""Times as a person reads them: "in 4 min", "2 h ago", "2026-12-03 09:15 (2 h ago)".

Every time the command line or the log shows goes through here: never a raw epoch number,
never a negative "ago" for a time in the future. ``now`` is an argument (tests pass it).
"""

from __future__ import annotations

import time
from datetime import datetime

# (unit, seconds in it), largest first; a value shows in the largest unit it reaches.
_UNITS = (("day", 86400), ("h", 3600), ("min", 60), ("s", 1))


def duration(seconds: float) -> str:
    """``"40 s"``, ``"4 min"``, ``"2 h"``, ``"3 days"`` (rounded to the nearest unit)."""
    seconds = abs(seconds)
    for unit, size in _UNITS:
        if seconds >= size or unit == "s":
            n = round(seconds / size)
            if unit == "day":
                return f"{n} day{'s' if n != 1 else ''}"
            return f"{n} {unit}"
    raise AssertionError("unreachable")  # the last unit always matches


def relative(ts: float, now: float | None = None) -> str:
    """``"in 4 min"`` for a future time, ``"2 h ago"`` for a past one, ``"now"`` within 1 s."""
    now = time.time() if now is None else now
    delta = float(ts) - now
    if abs(delta) < 1:
        return "now"
    return f"in {duration(delta)}" if delta > 0 else f"{duration(delta)} ago"


def moment(ts: float | str | None, now: float | None = None) -> str:
    """``"2026-12-03 09:15 (2 h ago)"``, local time; ``"never"`` for no time."""
    if ts is None or ts == "":
        return "never"
    ts = float(ts)
    when = datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")
    return f"{when} ({relative(ts, now)})"
