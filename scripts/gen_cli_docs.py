"""Write docs/cli.md from the command line's own help (tests check it is up to date).

Usage: .venv/bin/python scripts/gen_cli_docs.py
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
from click.testing import CliRunner

from photod.cli import cli

OUT = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path below ``command`` (``()`` is photod itself), depth first."""
    yield path
    if isinstance(command, click.Group):
        for name in command.list_commands(None):  # subcommands load lazily
            yield from walk(command.get_command(None, name), (*path, name))


def command_at(path: tuple[str, ...]) -> click.Command:
    """The command object at ``path``."""
    command: click.Command = cli
    for name in path:
        command = command.get_command(None, name)  # type: ignore[attr-defined]
    return command


def help_text(path: tuple[str, ...]) -> str:
    """Exactly what ``photod PATH --help`` prints (at a fixed width)."""
    result = CliRunner().invoke(
        cli, [*path, "--help"], prog_name="photod", terminal_width=88, max_content_width=88
    )
    if result.exit_code != 0:
        raise RuntimeError(f"photod {' '.join(path)} --help failed: {result.output}")
    return result.output.rstrip("\n")


def render() -> str:
    """The markdown text of docs/cli.md."""
    parts = [
        "# photod command line\n",
        "Generated from `--help` by `scripts/gen_cli_docs.py`; do not edit by hand.\n",
    ]
    for path in walk(cli):
        parts.append(f"## `{' '.join(('photod', *path))}`\n\n```\n{help_text(path)}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
