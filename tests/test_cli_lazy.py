"""Subcommands load lazily: `photod search` does not import the daemon, the models or
training at start-up, and `photod --help` still lists every command."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from photod.cli import SUBCOMMANDS, cli

HEAVY = ("photod.app", "photod.cli.concepts", "photod.cli.daemon", "photod.models.clip", "torch")


def test_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = result.output.split("Commands:")[1].split()
    assert set(SUBCOMMANDS) <= set(listed)


def test_search_imports_none_of_the_heavy_modules(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"paths: {{data_dir: {tmp_path / 'data'}}}\n")
    code = (
        "import sys\n"
        "from photod.cli import cli\n"
        "try:\n"
        f"    cli(['--config', {str(config)!r}, 'search', 'beach'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_a_command_run_on_its_own_first_still_gets_h_through_the_group():
    from photod.cli.duplicates import duplicates_command

    assert CliRunner().invoke(duplicates_command, ["--help"]).exit_code == 0  # caches "--help"
    cli.commands.pop("duplicates", None)  # as if the group had not loaded it yet
    result = CliRunner().invoke(cli, ["duplicates", "-h"])
    assert result.exit_code == 0, result.output
    assert "-h, --help" in result.output
