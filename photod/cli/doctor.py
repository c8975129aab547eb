"""``photod doctor``: a first-run check."""

from __future__ import annotations

import sys

import click

from photod.cli import Context, pass_context


@click.command("doctor")
@pass_context
def doctor_command(ctx: Context) -> None:
    """Check what photod needs: index, photo folders, inotify, models, exiftool, disk.

    Each problem comes with its fix. Loads no model (quick). Exits 0 when nothing FAILs
    (warnings are fine), 1 otherwise.
    """
    from photod.doctor import FAIL, run_checks

    checks = run_checks(ctx.config())
    width = max(len(c.name) for c in checks)
    for c in checks:
        click.echo(f"{c.status:4}  {c.name:{width}}  {c.detail}")
        if c.fix:
            click.echo(f"{'':4}  {'':{width}}  fix: {c.fix}")
    failed = [c for c in checks if c.status == FAIL]
    click.echo(f"{len(failed)} problem(s) to fix" if failed else "all is well")
    sys.exit(1 if failed else 0)
