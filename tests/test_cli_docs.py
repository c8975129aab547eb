"""Every command has help, and docs/cli.md is the current help of every command."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from photod.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def _gen():
    spec = importlib.util.spec_from_file_location("gen_cli_docs", ROOT / "scripts/gen_cli_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_command_has_help_text():
    gen = _gen()
    for path in gen.walk(cli):
        command = gen.command_at(path)
        name = " ".join(("photod", *path))
        assert (command.help or "").strip(), f"`{name}` has no help text"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"`{name} {param.opts[0]}` has no help text"


def test_cli_reference_is_up_to_date():
    assert (ROOT / "docs" / "cli.md").read_text() == _gen().render(), (
        "docs/cli.md is stale: run `.venv/bin/python scripts/gen_cli_docs.py`"
    )


def test_readme_points_at_the_docs():
    readme = (ROOT / "README.md").read_text()
    for doc in ("docs/cli.md", "docs/service.md"):
        assert doc in readme
