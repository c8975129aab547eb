"""``photod doctor``: what works and what does not, each problem with its fix.

Checks read the configuration and the machine; they load no model (that is slow and needs
the memory: ``photod models check``) and change nothing. :mod:`.system` checks folders,
inotify, exiftool and disk space; :mod:`.models` the face backend, the hub, CLIP and VLMs.
"""

from __future__ import annotations

from photod.config import Config
from photod.doctor.check import FAIL, OK, WARN, Check
from photod.doctor.models import check_faces, check_models
from photod.doctor.system import (
    check_compute,
    check_disk,
    check_exiftool,
    check_index,
    check_inotify,
    check_roots,
)
from photod.models.hub import hub_state

__all__ = ["FAIL", "OK", "WARN", "Check", "run_checks"]


def run_checks(config: Config) -> list[Check]:
    """Every check, in the order ``photod doctor`` prints them."""
    hub = hub_state(config.models.offline)
    return [
        check_index(config),
        *check_roots(config),
        check_inotify(config),
        check_faces(config),
        *check_models(config, hub),
        check_exiftool(),
        *check_disk(config),
        *check_compute(config),
    ]
