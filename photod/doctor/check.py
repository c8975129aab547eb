"""One finding of ``photod doctor``."""

from __future__ import annotations

from dataclasses import dataclass

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True)
class Check:
    """One finding: ``status`` is ok, warn (works, with a caveat) or FAIL; ``fix`` says how."""

    name: str
    status: str
    detail: str
    fix: str = ""
