"""``photod locate PHOTO NAME``: where a concept is in one photo (personalized REC).

With a grounding VLM configured (``vlm.models[].grounding``), the model is asked its
referring question about the concept with the concept's embedding appended; otherwise the
concept's head runs on the photo and its box, if it fired with one, is the answer. Exits with
status 1 and says why when there is no box. Nothing is written to the index.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from photod.cli import Context, pass_context
from photod.cli.vlm import photo_task


def _by_vlm(app, concept, task, model_id: str | None) -> dict:
    from photod.pipeline.task import Detection
    from photod.vlm.grounding import grounding_models, locate

    ids = [model_id] if model_id else grounding_models(app.vlm)
    if app.vlm.model_config(ids[0]).grounding is None:
        raise click.ClickException(f"vlm {ids[0]!r} has no grounding settings")
    fired = app.catalog.fired([Detection(concept.id, 1.0, "cli", concept.version)], ids[0])
    if not fired:
        raise click.ClickException(
            f"{concept.name} has no embedding for {ids[0]}: train it (photod concept train "
            f"{concept.name})"
        )
    [found] = locate(app.vlm, ids[0], task.image, fired)
    return {"box": found.box, "source": "vlm", "model": ids[0], "answer": found.answer,
            "reason": found.reason}  # fmt: skip


def _by_head(app, concept, task) -> dict:
    stages = {s.name: s for s in app.stages}
    if "heads" not in stages:
        raise click.ClickException("no concept head is configured and no grounding VLM either")
    stages["heads"].process(task)
    mine = [d for d in task.detections if d.concept_id == concept.id]
    box = next((d.box for d in mine if d.box is not None), None)
    reason = None
    if box is None:
        reason = "its head did not fire" if not mine else "its head fired without a box"
    return {"box": box, "source": "head", "model": mine[0].head_model if mine else None,
            "answer": None, "reason": reason}  # fmt: skip


@click.command("locate")
@click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("name")
@click.option("--model", "model_id", default=None, help="This grounding VLM id.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def locate_command(ctx: Context, photo: Path, name: str, model_id: str | None, as_json) -> None:
    """Where concept NAME is in PHOTO: its box (x, y, w, h as fractions of the photo as
    displayed), from the grounding VLM if one is configured, else from the concept's head."""
    from photod.app import build_app

    with build_app(ctx.config()) as app:
        concept = app.index.concepts.require(name)
        task = photo_task(app, photo, (), plain=True)
        grounding = [m.id for m in app.config.vlm.models if m.grounding is not None]
        if model_id or grounding:
            if app.vlm is None:
                raise click.ClickException("no VLM is configured (or no VLM backend registered)")
            result = _by_vlm(app, concept, task, model_id)
        else:
            result = _by_head(app, concept, task)
    result = {"photo": str(photo), "concept": concept.name, **result}
    if as_json:
        click.echo(json.dumps(result, indent=2))
    elif result["box"] is not None:
        x, y, w, h = result["box"]
        click.echo(
            f"{concept.name}: x={x:.3f} y={y:.3f} w={w:.3f} h={h:.3f} "
            f"(from the {result['source']}, {result['model']})"
        )
    if result["box"] is None:
        raise click.ClickException(f"{concept.name} is not located in {photo}: {result['reason']}")
