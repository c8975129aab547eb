"""``photod service install``: photod as a systemd user service, in one step."""

from __future__ import annotations

import sys

import click

from photod.cli import Context, pass_context


@click.group("service")
def service_group() -> None:
    """Run photod as a systemd user service."""


@service_group.command("install")
@pass_context
def install_command(ctx: Context) -> None:
    """Write the user unit with ExecStart= running this photod, and verify it.

    The unit goes to $XDG_CONFIG_HOME/systemd/user/photod.service (replacing one written
    before; your `systemctl --user edit` overrides are kept apart). It runs the photod you
    ran this with (and its --config, if given). `systemd-analyze verify` checks it when
    installed. Exits 1 when the check fails.
    """
    from photod.service.unit import (
        ENABLE_COMMANDS,
        photod_command,
        render_unit,
        user_unit_path,
        verify_unit,
    )

    config = ctx.config_path.expanduser().absolute() if ctx.config_path else None
    path = user_unit_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    existed = path.exists()
    path.write_text(render_unit(photod_command(), config), encoding="utf-8")
    exec_start = next(ln for ln in path.read_text().splitlines() if ln.startswith("ExecStart="))
    click.echo(f"{'updated' if existed else 'wrote'} {path}\n    {exec_start}")
    check = verify_unit(path)
    if check.ok is False:
        click.echo(f"systemd-analyze verify found problems:\n{check.detail}", err=True)
        sys.exit(1)
    click.echo("verified with systemd-analyze" if check.ok else f"not verified: {check.detail}")
    click.echo("enable and start it with:")
    for command in ENABLE_COMMANDS:
        click.echo(f"    {command}")
