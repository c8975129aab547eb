"""``photod scan``: index folders or files once, with a progress bar."""

from __future__ import annotations

import time
from pathlib import Path

import click
from tqdm import tqdm

from photod.app import build_app
from photod.cli import Context, pass_context
from photod.config import ComputeConfig
from photod.index import Index
from photod.watch.reconcile import reconcile


def compute_on(compute: ComputeConfig, on: str) -> ComputeConfig:
    """``compute`` as ``--on`` sets it: ``local``, ``ray`` or ``ray://HOST:PORT``."""
    if on == "local":
        return compute.model_copy(update={"backend": "local"})
    if on == "ray":
        return compute.model_copy(update={"backend": "ray"})
    if on.startswith("ray://"):
        return compute.model_copy(update={"backend": "ray", "address": on})
    raise click.BadParameter(f"{on!r}: use local, ray or ray://HOST:PORT", param_hint="--on")


def queued_jobs(index: Index) -> int:
    """Jobs waiting in the queue."""
    return index.jobs.counts().get("queued", 0)


@click.command("scan")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--force", is_flag=True, help="Re-process photos even if they did not change.")
@click.option("--no-progress", is_flag=True, help="No progress bar (e.g. in scripts).")
@click.option(
    "--on",
    "on",
    metavar="local|ray[://HOST:PORT]",
    help="Where the models run: here, or on a Ray cluster (default: compute.backend).",
)
@pass_context
def scan_command(
    ctx: Context, paths: tuple[Path, ...], force: bool, no_progress: bool, on: str | None
) -> None:
    """Index the photos under PATHS (default: the configured photo folders) and exit.

    Only new and changed photos are processed unless --force is given. Interrupting with
    Ctrl-C is safe: the remaining work stays queued for the next scan or the daemon.
    With --on ray the photos are read here and their models run on the Ray cluster of
    compute.address (--on ray://HOST:PORT: that cluster); see docs/scale.md.
    """
    config = ctx.config()
    if on is not None:
        config.compute = compute_on(config.compute, on)
    with build_app(config) as app:
        index = app.index
        found = reconcile(index, config.library, paths=list(paths) or None, force=force)
        total = queued_jobs(index)
        processor = app.processor().start()
        bar = tqdm(total=total, unit="photo", disable=no_progress, desc="indexing")
        try:
            while True:
                claimed = processor.pump()
                bar.n = processor.done + processor.failed
                bar.refresh()
                if not claimed and processor.in_flight == 0 and not queued_jobs(index):
                    break
                if not claimed:
                    time.sleep(0.05)
        except KeyboardInterrupt:
            click.echo("\ninterrupted: finishing the photos in progress...", err=True)
        finally:
            processor.wait_idle()
            processor.close()
            bar.n = processor.done + processor.failed
            bar.close()
        removed = processor.purge_missing()
        embedded = _backfill(app, no_progress) if config.clip.enabled else 0
    click.echo(
        f"{found.seen} photos found, {processor.done} indexed, {processor.failed} failed"
        + (f", {removed} removed" if removed else "")
        + (f", {embedded} embedded for search" if embedded else "")
        + (" (see `photod failures`)" if processor.failed else "")
    )


def _backfill(app, no_progress: bool) -> int:
    """Embed the photos indexed while CLIP was off (see :func:`backfill_clip`)."""
    from photod.errors import ModelLoadError
    from photod.heads.backfill import backfill_clip
    from photod.heads.features import CLIP
    from photod.ingest.decode import DecodeLimits

    if not app.features.available(CLIP):
        return 0  # the heads stage said why, once
    if not app.index.features.photos_without_clip(app.features.clip.model_id):
        return 0
    bar = tqdm(unit="photo", disable=no_progress, desc="CLIP embeddings")

    def progress(done: int, total: int) -> None:
        bar.total, bar.n = total, done
        bar.refresh()

    try:
        return backfill_clip(
            app.index, app.features, DecodeLimits.from_config(app.config.ingest), progress=progress
        )
    except ModelLoadError as exc:  # already said once by the heads stage; not a scan failure
        click.echo(f"photod: photos not embedded for search: {exc}", err=True)
        return 0
    finally:
        bar.close()
