"""``photod metadata write|clear [PATH]``: rewrite or remove what photod wrote into photos."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from photod.cli import Context, pass_context
from photod.config import Config
from photod.errors import PhotoError
from photod.index import Index
from photod.index.photos import record_own_write
from photod.index.queries import photo_id as photo_id_of
from photod.metadata.rewrite import IndexedRewriter
from photod.metadata.writer import MetadataWriter, WriterOptions

log = logging.getLogger(__name__)


def _under(path: Path | None, roots: list[Path]) -> tuple[list[Path], bool]:
    """The folders (or the one file) a command covers, and whether it is a single file."""
    if path is None:
        return roots, False
    return [path.resolve()], path.is_file()


def _photos_in_index(index: Index, targets: list[Path]) -> Iterator[tuple[int, str]]:
    for target in targets:
        for photo_id, path, _size, _mtime_ns in index.photos.indexed_under(target):
            yield photo_id, path


def _files(targets: list[Path], single: bool, extensions: list[str]) -> Iterator[Path]:
    if single:
        yield from targets
        return
    for root in targets:
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if not name.startswith(".") and Path(name).suffix.lower() in extensions:
                    yield Path(folder) / name


@click.group("metadata")
def metadata_group() -> None:
    """Write photod's captions, keywords and regions into photo metadata, or remove them."""


@metadata_group.command("write")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@pass_context
def write_cmd(ctx: Context, path: Path | None) -> None:
    """Rewrite photod's metadata of the indexed photos under PATH (default: every library root).

    Uses the results stored in the index, exactly as the daemon does after each photo; the
    configuration's ``metadata`` section says what is written (it need not be enabled for
    this command).
    """
    config = ctx.config()
    writer = MetadataWriter(WriterOptions.from_config(config.metadata))
    targets, _single = _under(path, config.library.roots)
    written = failed = 0
    with Index(config.index_path, busy_timeout_ms=config.index.busy_timeout_ms) as index:
        rewriter = IndexedRewriter(writer, config.metadata, index)
        for photo_id, photo_path in list(_photos_in_index(index, targets)):
            try:
                rewriter.rewrite(photo_id)
            except PhotoError as exc:
                failed += 1
                click.echo(f"failed: {photo_path}: {exc}", err=True)
                continue
            written += 1
    click.echo(f"metadata written for {written} photo(s), {failed} failed")
    if failed:
        sys.exit(1)


@metadata_group.command("clear")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@pass_context
def clear_cmd(ctx: Context, path: Path | None) -> None:
    """Remove everything photod wrote into the photos under PATH (default: every library root).

    Works from the files themselves (photod's record in each sidecar), so it also cleans
    photos the index no longer knows; other tools' metadata stays.
    """
    config = ctx.config()
    writer = MetadataWriter(WriterOptions.from_config(config.metadata))
    targets, single = _under(path, config.library.roots)
    changed: dict[str, object] = {}
    cleared = failed = 0
    for photo in _files(targets, single, config.library.extensions):
        try:
            result = writer.clear(photo)
        except PhotoError as exc:
            failed += 1
            click.echo(f"failed: {photo}: {exc}", err=True)
            continue
        if result.photo is not None or result.sidecar is not None:
            cleared += 1
        if result.photo is not None:
            after = (result.photo.size, result.photo.mtime_ns)
            changed[str(photo.resolve())] = (result.before, after, result.content_hash)
    if changed and config.index_path.exists():
        _record_all(config, changed)
    click.echo(f"photod's metadata removed from {cleared} photo(s), {failed} failed")
    if failed:
        sys.exit(1)


def _record_all(config: Config, changed: dict) -> None:
    """Tell the index about the photos photod itself rewrote (so they are not re-processed)."""

    def work(db) -> None:
        for photo_path, (before, after, digest) in changed.items():
            photo_id = photo_id_of(db, photo_path)
            if photo_id is not None:
                record_own_write(db, photo_id, before, after, digest)

    with Index(config.index_path, busy_timeout_ms=config.index.busy_timeout_ms) as index:
        index.write(work)
