"""``photod caption PHOTO`` and ``photod ask PHOTO QUESTION``: the personalised VLM, once.

The photo goes through the same stages as in the daemon (decode, concept heads, then the
VLM with the fired concepts' embeddings appended); ``--concept`` names concepts to append
whether or not their head fires, ``--plain`` appends none. Nothing is written to the index.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from photod.cli import Context, pass_context


def photo_task(app, photo: Path, concepts: tuple[str, ...], plain: bool):
    """A decoded task with its detections (heads, forced names, or none)."""
    from photod.index.jobs import Job
    from photod.pipeline.task import Detection, PhotoTask

    task = PhotoTask(job=Job(0, "index", str(photo), {"force": True}), path=photo)
    stages = {s.name: s for s in app.stages}
    stages["ingest"].process(task)
    if plain:
        return task
    if concepts:
        for name in concepts:
            c = app.index.concepts.require(name)
            task.detections.append(Detection(c.id, 1.0, "cli", c.version))
    elif "heads" in stages:
        stages["heads"].process(task)
    return task


def _runtime(app):
    if app.vlm is None:
        raise click.ClickException(
            "no VLM is configured: add a model under 'vlm: models:' (see docs/personalization.md)"
        )
    return app.vlm


def _run(ctx: Context, photo: Path, question: str | None, concepts, plain, model_id, as_json):
    from photod.app import build_app

    config = ctx.config()
    # One photo, answered here: never through a compute cluster (compute.backend).
    config.compute = config.compute.model_copy(update={"backend": "local"})
    with build_app(config) as app:
        runtime = _runtime(app)
        task = photo_task(app, photo, concepts, plain)
        results = []
        for vlm_id in [model_id] if model_id else runtime.model_ids:
            fired = app.catalog.fired(task.detections, vlm_id)
            names = [f.identifier for f in fired]
            if question is None:  # the daemon's caption path
                text = runtime.describe(vlm_id, task.image, fired, (), caption=True).caption
            else:  # the question as asked, once, with every recognised concept appended
                text = runtime.session(vlm_id).generate(
                    [task.image], [question], [[(f.identifier, f.embedding) for f in fired]]
                )[0]
            results.append({"model": vlm_id, "concepts": names, "text": text})
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    for r in results:
        prefix = f"[{r['model']}] " if len(results) > 1 else ""
        click.echo(f"{prefix}{r['text']}")


_photo = click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
_concept = click.option(
    "--concept",
    "concepts",
    multiple=True,
    help="Append this concept (by name) whatever its head says.",
)
_plain = click.option("--plain", is_flag=True, help="Append no concept: the untouched model.")
_model = click.option("--model", "model_id", default=None, help="Only this VLM id.")
_json = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.command("caption")
@_photo
@_concept
@_plain
@_model
@_json
@pass_context
def caption_command(ctx: Context, photo: Path, concepts, plain, model_id, as_json) -> None:
    """Caption PHOTO, naming the concepts recognised in it."""
    _run(ctx, photo, None, concepts, plain, model_id, as_json)


@click.command("ask")
@_photo
@click.argument("question")
@_concept
@_plain
@_model
@_json
@pass_context
def ask_command(
    ctx: Context, photo: Path, question: str, concepts, plain, model_id, as_json
) -> None:
    """Ask QUESTION about PHOTO, e.g. photod ask beach.jpg "What is Rex doing?"."""
    _run(ctx, photo, question, concepts, plain, model_id, as_json)
