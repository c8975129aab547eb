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


def _print_results(results, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(results.to_json(), indent=2, ensure_ascii=False))
        if not results.results:
            sys.exit(1)
        return
    for note in results.notes:
        click.echo(f"note: {note}", err=True)
    if not results.results:
        click.echo("no photos match", err=True)
        sys.exit(1)  # like grep: nothing found, whatever the output format
    for r in results.results:
        who = ", ".join(r.people + r.pets + r.objects)
        facts = " · ".join(x for x in (moment_date(r.taken_at), who, r.place) if x)
        click.echo(f"{r.path}  (score {r.score:.4f})")
        if facts:
            click.echo(f"    {facts}")
        why = "; ".join(f"{m.field} {m.value}" for m in r.matched)
        if why:
            click.echo(f"    matched: {why}")


def moment_date(taken_at: str | None) -> str:
    """ "2023-06-14 10:00" from an ISO time (seconds and zone left out)."""
    return taken_at.replace("T", " ")[:16] if taken_at else ""


def _ranker(config, index: Index):
    """Semantic ranking with the configured CLIP (None when it is off: the engine says so).

    The model loads only when a query has words and the index holds embeddings."""
    from photod.heads.features import SharedFeatures
    from photod.models.cache import ModelSessions
    from photod.search.semantic import ClipRanker

    if not config.clip.enabled:
        return None
    clip = SharedFeatures(config, index, ModelSessions()).clip
    return ClipRanker.create(config.clip, index, clip)


def _run_search(as_json: bool, search) -> None:
    from photod.search.query import QueryError

    try:
        results = search()
    except QueryError as exc:
        if as_json:
            click.echo(json.dumps({"error": str(exc)}))
        click.echo(f"photod: bad query: {exc}", err=True)
        sys.exit(2)
    _print_results(results, as_json)


# "-rain" and "-person:Bob" are query words, not options.
@click.command("search", context_settings={"ignore_unknown_options": True})
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", default=50, show_default=True, help="At most this many photos.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--semantic", "mode", flag_value="semantic", help="Only semantic (CLIP) matches.")
@click.option("--exact", "mode", flag_value="exact", help="Only names, tags, text and filters.")
@pass_context
def search_command(
    ctx: Context, query: tuple[str, ...], limit: int, as_json: bool, mode: str | None
) -> None:
    """Find photos by who, what, when and where.

    QUERY is words and filters, all of which must hold:

    \b
      alice beach            every word (names, tags, captions, places, folders...)
      "red mug"              a phrase;  beach OR lake: either;  -rain: not
      beac*                  a prefix (words match by stem: beaches finds beach)
      person:Alice pet:Rex object:mug   a concept photod recognised
      with:Alice,Bob         at least these;  only:Alice,Bob: exactly these people
      tag:blurry             a tag;  cluster:3: an unnamed face cluster
      after:2023-06 before:2024         taken in that span (YYYY, YYYY-MM, YYYY-MM-DD)
      in:Holidays            a folder (name, or a path: in:/photos/2023)
      camera:x100 lens:23mm near:lisbon camera, lens, the place of the GPS position

    A negated word that starts like an option of this command (-h...) needs `--` before
    the query: `photod search -- beach -hills`.

    Exits 0 when photos are found, 1 when none match, 2 when the query is malformed
    (one line names the bad part); the same with --json (docs/search.md has its schema).
    """
    from photod.search.engine import SearchEngine
    from photod.search.query import from_argv

    index = _index(ctx)
    engine = SearchEngine(index, None if mode == "exact" else _ranker(ctx.config(), index))
    text = from_argv(query)
    _run_search(as_json, lambda: engine.search(text, limit=limit, mode=mode or "auto"))


@click.command("photos")
@click.argument("name")
@click.option("--limit", default=50, show_default=True, help="At most this many photos.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (as search's).")
@pass_context
def concept_photos_command(ctx: Context, name: str, limit: int, as_json: bool) -> None:
    """List the photos the concept NAME was found in, newest first (exit 1: none)."""
    from photod.search.engine import SearchEngine

    engine = SearchEngine(_index(ctx))
    _run_search(as_json, lambda: engine.concept_photos(name, limit=limit))


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
