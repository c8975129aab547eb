"""Installing photod as a systemd user service: the shipped unit with the real ExecStart.

The unit ships inside the package (``photod/service/photod.service``; ``systemd/`` in the
checkout links to it). As shipped, ExecStart runs ``%h/.local/bin/photod``, the link
``scripts/run.sh`` makes; the installed copy runs the photod that installs it, so the service
works for any installation (a checkout's ``.venv``, pipx, a system package).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

SHIPPED_EXEC_START = "ExecStart=%h/.local/bin/photod run"
UNIT_NAME = "photod.service"


def shipped_unit() -> str:
    """The text of the unit that ships with photod."""
    return resources.files("photod.service").joinpath(UNIT_NAME).read_text(encoding="utf-8")


def photod_command() -> list[str]:
    """How to start this photod: its console script, else this Python with ``-m photod``."""
    # The venv's python is a symlink to the system's: the script lies beside the unresolved one.
    script = Path(sys.executable).parent / "photod"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("photod")
    if found:
        return [str(Path(found).absolute())]
    return [sys.executable, "-m", "photod"]


def render_unit(command: list[str], config: Path | None = None) -> str:
    """The shipped unit with ExecStart running ``command`` (with ``--config`` if given)."""
    args = [*command, *(["--config", str(config)] if config else []), "run"]
    # systemd splits ExecStart like a shell (quotes, no expansion); "%" starts a specifier.
    line = "ExecStart=" + " ".join(shlex.quote(a).replace("%", "%%") for a in args)
    text = shipped_unit()
    if SHIPPED_EXEC_START not in text:
        raise RuntimeError(f"the shipped unit has no line {SHIPPED_EXEC_START!r}")
    return text.replace(SHIPPED_EXEC_START, line)


def user_unit_path(environ: dict[str, str] | os._Environ[str] = os.environ) -> Path:
    """``$XDG_CONFIG_HOME/systemd/user/photod.service``, where systemd looks for user units."""
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")) / ".config")
    return Path(base).expanduser() / "systemd" / "user" / UNIT_NAME


@dataclass(frozen=True)
class Verification:
    """What ``systemd-analyze verify`` said: ``ok`` is None when it could not run."""

    ok: bool | None
    detail: str


def verify_unit(path: Path) -> Verification:
    """Run ``systemd-analyze verify`` on the unit file at ``path`` (when it is installed)."""
    analyzer = shutil.which("systemd-analyze")
    if analyzer is None:
        return Verification(None, "systemd-analyze is not installed")
    try:
        result = subprocess.run(
            [analyzer, "verify", str(path)], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Verification(None, f"systemd-analyze could not run: {exc}")
    # verify reports on every unit it loads (dependencies too): only this one's lines count.
    problems = [ln for ln in result.stderr.splitlines() if path.name in ln]
    if result.returncode != 0 and not problems:
        problems = result.stderr.strip().splitlines()[-1:] or [f"exit {result.returncode}"]
    return Verification(not problems, "\n".join(problems))


ENABLE_COMMANDS = (
    "systemctl --user daemon-reload",
    "systemctl --user enable --now photod",
    'loginctl enable-linger "$USER"   # keep it running while you are logged out',
)
