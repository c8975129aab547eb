"""``photod serve``: the web app (docs/web.md)."""

from __future__ import annotations

import sys

import click

from photod.cli import Context, pass_context
from photod.errors import EX_CONFIG, ConfigError


@click.command("serve")
@click.option("--host", help="Address to listen on (default: web.host, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: web.port, 8180).")
@click.option(
    "--set-password",
    is_flag=True,
    help="Ask for a password and print the web.password_hash line for the configuration.",
)
@pass_context
def serve_command(ctx: Context, host: str | None, port: int | None, set_password: bool) -> None:
    """Serve the web app: browse, search and teach photod in a browser.

    It listens on 127.0.0.1 unless told otherwise; any other address needs web.password_hash
    (make one with --set-password), or photod refuses to start (exit 78). `photod run` serves
    it too when web.enabled is true.
    """
    from photod.web.security import check_bind, hash_password

    if set_password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            hashed = hash_password(password)
        except ValueError as exc:
            click.echo(f"photod: {exc}", err=True)
            sys.exit(1)
        click.echo("Add this to the web: section of your configuration file:")
        click.echo(f"  password_hash: '{hashed}'")
        return
    config = ctx.config()
    updates = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    cfg = config.web.model_copy(update=updates)
    try:
        check_bind(cfg)
    except ConfigError as exc:
        click.echo(f"photod: configuration error: {exc}", err=True)
        sys.exit(EX_CONFIG)

    import uvicorn

    from photod.app import build_app
    from photod.web.server import create_web_app

    with build_app(config) as app:
        shown = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
        click.echo(f"photod web app on http://{shown}:{cfg.port}/ (Ctrl-C stops it)", err=True)
        uvicorn.run(
            create_web_app(app, cfg),
            host=cfg.host,
            port=cfg.port,
            log_level="warning",
            timeout_graceful_shutdown=2,  # open status streams must not hold Ctrl-C up
        )
