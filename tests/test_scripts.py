"""The README's run command: pip only when dependencies change, `photod` linked onto PATH.

pip itself cannot run here (no package index is reachable from the tests): the checkout's
``.venv/bin/python`` is a stand-in that records each pip call, and ``.venv/bin/photod`` one
that says it ran. Everything else is the real script in a copy of the checkout's layout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the scripts and dependency files, with a stand-in virtual environment."""
    repo = tmp_path / "photod"
    shutil.copytree(ROOT / "scripts", repo / "scripts")
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, repo / name)
    for plugin in [*ROOT.glob("plugins/*/pyproject.toml"), ROOT / "lab" / "pyproject.toml"]:
        dest = repo / plugin.relative_to(ROOT)
        dest.parent.mkdir(parents=True)
        shutil.copy(plugin, dest)
    venv = repo / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/pip-calls\n')
    (venv / "photod").write_text('#!/bin/sh\necho "photod ran: $*"\n')
    for f in venv.iterdir():
        f.chmod(0o755)
    return repo


def run_sh(repo: Path, home: Path, path: str = "/usr/bin:/bin") -> str:
    env = {"HOME": str(home), "PATH": path}
    result = subprocess.run(
        [str(repo / "scripts" / "run.sh"), "--once"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stderr == ""  # no warnings of its own
    return result.stdout


def pip_calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "pip-calls"
    return log.read_text().splitlines() if log.exists() else []


def test_run_sh_installs_once_links_photod_and_says_when_path_lacks_it(checkout, tmp_path):
    home = tmp_path / "home"
    out = run_sh(checkout, home)
    assert "photod ran: run --once" in out
    installs = pip_calls(tmp_path)
    assert any("-e .[all]" in c for c in installs)
    link = home / ".local" / "bin" / "photod"
    assert link.resolve() == (checkout / ".venv" / "bin" / "photod").resolve()
    assert os.access(link, os.X_OK)
    assert f"{home}/.local/bin is not on your PATH" in out

    # Nothing changed: no pip, no message, straight to the daemon.
    out = run_sh(checkout, home, path=f"{home}/.local/bin:/usr/bin:/bin")
    assert out.strip() == "photod ran: run --once"
    assert pip_calls(tmp_path) == installs

    # A plugin's dependencies changed: pip runs again.
    plugin = next(checkout.glob("plugins/*/pyproject.toml"))
    plugin.write_text(plugin.read_text() + "\n# changed\n")
    run_sh(checkout, home)
    assert len(pip_calls(tmp_path)) > len(installs)
