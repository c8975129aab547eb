"""Write docs/cli.md from the command line's own help (tests check it is up to date).

Usage: .venv/bin/python scripts/gen_cli_docs.py
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from photod.cli import cli

OUT = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def walk(
    command: click.Command, name: str = "photod", parent: click.Context | None = None
) -> Iterator[tuple[str, click.Context]]:
    """Yield (full name, context) for every command and subcommand, depth first.

    Contexts are chained like a real invocation, so inherited settings (``-h``) show.
    """
    ctx = click.Context(
        command,
        parent=parent,
        info_name=name,
        terminal_width=88,
        max_content_width=88,
        **command.context_settings,
    )
    yield ctx.command_path, ctx
    if isinstance(command, click.Group):
        for sub in sorted(command.commands):
            yield from walk(command.commands[sub], sub, ctx)


def render() -> str:
    """The markdown text of docs/cli.md."""
    parts = [
        "# photod command line\n",
        "Generated from `--help` by `scripts/gen_cli_docs.py`; do not edit by hand.\n",
    ]
    for name, ctx in walk(cli):
        parts.append(f"## `{name}`\n\n```\n{ctx.command.get_help(ctx)}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
