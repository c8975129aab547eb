"""The shipped systemd unit is valid and says what photod relies on."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

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


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed on this machine",
)
def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    unit = tmp_path / "photod.service"
    # verify checks that ExecStart exists: point it at a real executable.
    unit.write_text(UNIT.read_text().replace("%h/.local/bin/photod", shutil.which("true")))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    problems = [line for line in result.stderr.splitlines() if "photod.service" in line]
    assert result.returncode == 0 and not problems, result.stderr
