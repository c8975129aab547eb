"""``photod run``: the daemon."""

from __future__ import annotations

import sys

import click

from photod.cli import Context, pass_context
from photod.errors import EX_CONFIG, ConfigError, PhotodError


@click.command("run")
@pass_context
def run_command(ctx: Context) -> None:
    """Run the daemon: index the photo folders, watch them, process changes.

    Meant to run under systemd (see systemd/photod.service): it reports readiness and status,
    pings the watchdog, stops cleanly on SIGTERM (finishing photos in progress) and reloads
    its configuration on SIGHUP.
    """
    from photod.config import load_config
    from photod.service.daemon import Daemon

    ctx.config()  # validate first: a bad configuration exits 78 before anything starts

    def load():
        return load_config(ctx.config_path, required=ctx.config_path is not None)

    try:
        sys.exit(Daemon(load).run())
    except ConfigError as exc:
        click.echo(f"photod: configuration error: {exc}", err=True)
        sys.exit(EX_CONFIG)
    except PhotodError as exc:
        click.echo(f"photod: {exc}", err=True)
        sys.exit(1)
