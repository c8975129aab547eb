"""Write docs/cli.md from the command line's own help (tests check it is up to date).

Usage: .venv/bin/python scripts/gen_cli_docs.py
"""

from __future__ import annotations

from pathlib import Path

import click

from photod.cli import cli

OUT = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def walk(command: click.Command, path: list[str]):
    """Yield (full name, command) for every command and subcommand, depth first."""
    yield " ".join(path), command
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from walk(command.commands[name], [*path, name])


def render() -> str:
    """The markdown text of docs/cli.md."""
    parts = [
        "# photod command line\n",
        "Generated from `--help` by `scripts/gen_cli_docs.py`; do not edit by hand.\n",
    ]
    for name, command in walk(cli, ["photod"]):
        with click.Context(command, info_name=name, terminal_width=88, max_content_width=88) as ctx:
            text = command.get_help(ctx)
        parts.append(f"## `{name}`\n\n```\n{text}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
