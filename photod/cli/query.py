"""Read-only commands: status, search, failures, plugins."""

from __future__ import annotations

import json
import sys

import click

from photod.cli import Context, pass_context
from photod.humantime import moment
from photod.index import Index


def _index(ctx: Context) -> Index:
    config = ctx.config()
    path = config.index_path
    if not path.exists():
        click.echo(
            f"photod: no index yet at {path}; run `photod scan` or `photod run` first.", err=True
        )
        sys.exit(1)
    return Index(path, readonly=True)


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def status_command(ctx: Context, as_json: bool) -> None:
    """Show what is indexed, what is queued, failures and the last activity."""
    info = _index(ctx).meta.status()
    info["index"] = str(ctx.config().index_path)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    by_status = ", ".join(f"{n} {s}" for s, n in sorted(info["by_status"].items())) or "none"
    queue = ", ".join(f"{n} {s}" for s, n in sorted(info["jobs"].items())) or "empty"
    click.echo(f"index:          {info['index']}")
    click.echo(f"photos:         {info['photos']} ({by_status})")
    click.echo(f"duplicates:     {info['duplicates']}")
    click.echo(f"captions:       {info['captions']}")
    click.echo(f"concepts:       {info['concepts']}")
    click.echo(f"queue:          {queue}")
    click.echo(
        f"failures:       {info['failures']}"
        + (" (see `photod failures`)" if info["failures"] else "")
    )
    click.echo(f"daemon:         {info['daemon'] or 'not running'}")
    if info["polling_roots"]:
        click.echo(f"polling:        {', '.join(info['polling_roots'])} (inotify limit; see docs)")
    click.echo(f"last activity:  {moment(info['last_activity'])}")
    for job in info["training"]:
        when = job["started_at"] if job["state"] == "running" else job["due_at"]
        label = "since" if job["state"] == "running" else "due"
        error = f" (last error: {job['last_error']})" if job["last_error"] else ""
        what = f"{job['concept']} {job['state']}, {label} {moment(when)}"
        click.echo(f"training:       {what}{error}")


@click.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", default=50, show_default=True, help="At most this many photos.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def search_command(ctx: Context, query: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Find photos whose captions, answers or tags contain every word of QUERY.

    Words match as prefixes: `photod search rex beach` finds "Rex running on the beaches".
    Exits 1 when no photo matches (with --json too, which then prints []).
    """
    hits = _index(ctx).photos.search(" ".join(query), limit=limit)
    if as_json:
        click.echo(json.dumps([h.__dict__ for h in hits], indent=2, ensure_ascii=False))
    elif not hits:
        click.echo("no photos match", err=True)
    if not hits:
        sys.exit(1)  # like grep: nothing found, whatever the output format
    if as_json:
        return
    for hit in hits:
        click.echo(f"{hit.path}\n    {hit.snippet}")


@click.command("failures")
@click.option("--limit", default=100, show_default=True, help="At most this many failures.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def failures_command(ctx: Context, limit: int, as_json: bool) -> None:
    """List photos that could not be processed, and why (newest first)."""
    rows = _index(ctx).photos.failures(limit=limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no failures")
        return
    for r in rows:
        click.echo(f"{r['path']}\n    [{r['stage']}] {r['reason']} (x{r['attempts']})")


@click.command("plugins")
@pass_context
def plugins_command(ctx: Context) -> None:
    """List the loaded plugins, their hooks, and which stages and listeners are active."""
    from photod.app import build_app

    with build_app(ctx.config()) as app:
        for p in app.plugins.loaded:
            state = f"ERROR: {p.error}" if p.error else ", ".join(p.hooks)
            click.echo(f"{p.name:24} {p.source}\n    {state}")
        click.echo("stages: " + " -> ".join(f"{s.name}" for s in app.stages))
        if app.listeners:
            click.echo("after commit: " + ", ".join(x.name for x in app.listeners))
        off = [*app.inactive_stages, *app.inactive_listeners]
        if off:
            click.echo("off:    " + ", ".join(off))


COMMANDS = [status_command, search_command, failures_command, plugins_command]
