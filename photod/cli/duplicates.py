"""``photod duplicates``: exact copies and near-duplicates (resized, re-encoded copies)."""

from __future__ import annotations

import json
import sys

import click

from photod.cli import Context, pass_context


@click.command("duplicates")
@click.option(
    "--similarity",
    type=click.FloatRange(-1, 1),
    default=None,
    help="Least CLIP cosine similarity of near-duplicates (default: clip.duplicate_similarity).",
)
@click.option("--exact", "exact_only", is_flag=True, help="Only exact copies (no CLIP needed).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def duplicates_command(
    ctx: Context, similarity: float | None, exact_only: bool, as_json: bool
) -> None:
    """List groups of duplicate photos: exact copies (the same content hash) and
    near-duplicates (CLIP embeddings closer than a threshold: resized or re-encoded copies).

    Photos indexed while CLIP was off are embedded first. Exits 1 when there are none (with
    --json too, which then prints []).
    """
    from photod.app import build_app
    from photod.duplicates import find_duplicates
    from photod.errors import ModelLoadError
    from photod.heads.backfill import backfill_clip
    from photod.ingest.decode import DecodeLimits

    config = ctx.config()
    threshold = config.clip.duplicate_similarity if similarity is None else similarity
    near = config.clip.enabled and not exact_only
    with build_app(config) as app:
        vectors = None
        if near:
            try:
                backfill_clip(app.index, app.features, DecodeLimits.from_config(config.ingest))
            except ModelLoadError as exc:
                click.echo(f"photod: only exact copies: {exc}", err=True)
            vectors = app.index.vectors.contents(app.features.clip.model_id)
        stored = app.index.vectors
        groups = find_duplicates(stored.exact_copies(), vectors, stored.photos_of, threshold)
    if as_json:
        out = [
            {
                "kind": "exact" if g.exact else "near",
                "photos": [{"id": i, "path": p, "similarity": s} for i, p, s in g.photos],
            }
            for g in groups
        ]
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
    elif not groups:
        click.echo("no duplicates", err=True)
    if not groups:
        sys.exit(1)
    if as_json:
        return
    for n, g in enumerate(groups, 1):
        click.echo(f"group {n}: {'exact copies' if g.exact else 'near-duplicates'}")
        for _, path, s in g.photos:
            click.echo(f"    {path}" + ("" if g.exact else f"  ({s:.3f})"))
