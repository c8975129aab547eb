"""The shipped systemd unit is valid and says what photod relies on."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from photod.cli import cli
from photod.service.unit import SHIPPED_EXEC_START

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "photod.service"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNIT)
    return parser


def test_unit_declares_notify_watchdog_reload_and_hardening():
    service = _unit()["Service"]
    assert service["Type"] == "notify"
    assert int(service["WatchdogSec"]) > 0
    assert "kill -HUP" in service["ExecReload"]
    assert service["RestartPreventExitStatus"] == "78"  # config errors do not restart-loop
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
    assert "%h" in service["ReadWritePaths"]  # photos and photod's data stay reachable
    assert _unit()["Install"]["WantedBy"] == "default.target"  # a user unit


def verify(unit: Path, home: Path) -> subprocess.CompletedProcess:
    """``systemd-analyze verify`` with ``%h`` = ``home``; skipped only where it cannot run."""
    analyzer = shutil.which("systemd-analyze")
    if analyzer is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    env = dict(os.environ, HOME=str(home))
    try:
        return subprocess.run(
            [analyzer, "verify", str(unit)], capture_output=True, text=True, env=env, timeout=60
        )
    except OSError as exc:
        pytest.skip(f"systemd-analyze cannot run here: {exc}")


def test_shipped_unit_passes_verify_once_run_sh_made_its_link(tmp_path):
    # ExecStart is %h/.local/bin/photod, the link scripts/run.sh makes (tests/test_scripts.py).
    link = tmp_path / ".local" / "bin" / "photod"
    link.parent.mkdir(parents=True)
    link.symlink_to(shutil.which("true"))
    result = verify(UNIT, tmp_path)
    problems = [line for line in result.stderr.splitlines() if "photod.service" in line]
    assert result.returncode == 0 and not problems, result.stderr


def test_service_install_writes_a_verified_unit_running_this_photod(tmp_path):
    config = tmp_path / "photod.yaml"
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}
    result = CliRunner().invoke(cli, ["--config", str(config), "service", "install"], env=env)
    assert result.exit_code == 0, result.output
    unit = tmp_path / "xdg" / "systemd" / "user" / "photod.service"
    text = unit.read_text()
    exec_start = next(ln for ln in text.splitlines() if ln.startswith("ExecStart="))
    program = exec_start.removeprefix("ExecStart=").split()[0]
    assert Path(program).is_absolute() and os.access(program, os.X_OK)
    assert exec_start.endswith(f"--config {config} run")
    assert exec_start in result.output
    assert "systemctl --user enable --now photod" in result.output
    # Everything but ExecStart is the shipped unit.
    assert text.replace(exec_start, "") == UNIT.read_text().replace(SHIPPED_EXEC_START, "")
    if shutil.which("systemd-analyze"):
        assert "verified with systemd-analyze" in result.output
        assert verify(unit, tmp_path).returncode == 0
    else:
        assert "not verified: systemd-analyze is not installed" in result.output
