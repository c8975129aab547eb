"""``photod concept ...`` and ``photod faces ...``: teach photod people, pets and objects."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from photod.app import build_app
from photod.cli import Context, pass_context
from photod.cli.query import concept_photos_command
from photod.concepts import teach
from photod.concepts.scheduler import request_training
from photod.humantime import relative
from photod.index import concepts as store
from photod.index.concepts import ConceptError


def _box(value: str | None) -> tuple[float, float, float, float] | None:
    if not value:
        return None
    try:
        x, y, w, h = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(
            "use x,y,w,h as fractions of the photo, e.g. 0.5,0,0.5,1"
        ) from None
    return (x, y, w, h)


def _fail(message: str) -> None:
    click.echo(f"photod: {message}", err=True)
    sys.exit(1)


def _check_person_examples(
    app, concept: store.Concept, paths: list[str], box, force: bool = False, command: str = ""
) -> None:
    """Refuse a person example whose face cannot be told, or that looks like someone else,
    before it is stored (``--force`` skips the second check). ``command``: what the user
    runs again with ``PATH --face x,y,w,h`` (default: ``photod concept examples add NAME``)."""
    import shlex

    import numpy as np

    from photod.faces.base import distances
    from photod.heads.examples import choose_faces

    trainer = app.trainer
    ctx = trainer.context()
    known = app.index.concepts.examples(concept.id)
    new = [store.Example(0, concept.id, p, box, "cli") for p in paths]
    backend = trainer.features.face_backend
    thr = trainer.features.face_threshold
    command = command or f"photod concept examples add {shlex.quote(concept.name)}"
    chosen, refused = choose_faces(known + new, ctx.faces_of, backend.metric, thr, command)
    bad = [refused[p] for p in paths if p in refused]
    anchors = [f.embedding for p, f in chosen.items() if p not in paths]
    for p in paths:
        if p in chosen and anchors and not force:
            d = distances(backend.metric, chosen[p].embedding[None], np.stack(anchors)).min()
            if d > thr:
                bad.append(
                    f"{p}: the face does not look like {concept.name}'s other examples "
                    f"(distance {d:.2f} > {thr}); add it with --force if it is them."
                )
    if bad:
        raise ConceptError("refused: " + " ".join(bad))


def _add_again(concept: store.Concept) -> str:
    """The ``photod concept add`` command that creates ``concept`` as it was asked for."""
    import shlex

    words = ["photod", "concept", "add", concept.name, "--kind", concept.kind]
    words += ["--class", concept.class_word]
    if concept.identifier != concept.name:
        words += ["--identifier", concept.identifier]
    if concept.head:
        words += ["--head", concept.head]
    return " ".join(shlex.quote(w) for w in words)


def _add_examples(
    ctx: Context,
    name: str,
    paths: list[str],
    box,
    *,
    create: dict | None = None,
    force=False,
    caption: str | None = None,
):
    config = ctx.config()
    with build_app(config) as app:
        index = app.index
        try:
            if create is not None:
                concept = index.write(lambda db: store.add_concept(db, name, **create))
                (config.examples_dir / concept.name).mkdir(parents=True, exist_ok=True, mode=0o700)
            else:
                concept = index.concepts.require(name)
            if concept.head_name == "person" and paths:
                # A refused new concept is not kept: the fix is the same `concept add` again.
                again = _add_again(concept) if create is not None else ""
                _check_person_examples(app, concept, paths, box, force, again)
        except ConceptError as exc:
            if create is not None and "exists already" not in str(exc):
                index.write(lambda db: store.remove_concept(db, concept.id))
            _fail(str(exc))

        due = teach.add_examples(index, concept, paths, config.concepts, box=box, caption=caption)
    click.echo(f"{concept.name}: {len(paths)} example(s) added; retraining {relative(due)}.")


@click.group("concept")
def concept_group() -> None:
    """Manage your concepts (people, pets, objects) and their examples."""


# `concept photos` is a search (it lives with the search command) but belongs to this group.
concept_group.add_command(concept_photos_command)


@concept_group.command("add")
@click.argument("name")
@click.argument("examples", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--kind",
    type=click.Choice(store.KINDS),
    required=True,
    help="person (recognised by face), pet or object (recognised by CLIP).",
)
@click.option("--class", "class_word", required=True, help="Class word: man, woman, dog, mug.")
@click.option("--identifier", help="Word used in captions (default: NAME).")
@click.option("--head", help="Head to use (default: person for people, object otherwise).")
@click.option("--face", help="x,y,w,h (fractions) of the person's face in the examples.")
@pass_context
def add_command(ctx, name, examples, kind, class_word, identifier, head, face) -> None:
    """Create concept NAME from EXAMPLES (photos of it)."""
    create = {"kind": kind, "class_word": class_word, "identifier": identifier, "head": head}
    paths = [str(Path(p).resolve()) for p in examples]
    _add_examples(ctx, name, paths, _box(face), create=create)


@concept_group.command("list")
@pass_context
def list_command(ctx: Context) -> None:
    """List concepts with their kind, version and training state."""
    with build_app(ctx.config()) as app:
        index = app.index
        jobs = {j["concept"]: j for j in index.training.status()}
        concepts = index.concepts.all()
        if not concepts:
            click.echo(
                "no concepts yet; teach photod one with "
                "`photod concept add NAME --kind person --class woman PHOTO...`"
            )
        for c in concepts:
            n = len(index.concepts.examples(c.id))
            job = jobs.get(c.name)
            state = ""
            if job and job["state"] == "queued":
                state = f", training {relative(job['due_at'])}"
            elif job:
                state = f", training {job['state']}"
            click.echo(f"{c.name}\t{c.kind} ({c.class_word})\tv{c.version}\t{n} examples{state}")


@concept_group.command("show")
@click.argument("name")
@pass_context
def show_command(ctx: Context, name: str) -> None:
    """Show a concept: identifier, head, metrics, examples, training job."""
    with build_app(ctx.config()) as app:
        index = app.index
        try:
            c = index.concepts.require(name)
        except ConceptError as exc:
            _fail(str(exc))
        click.echo(f"name:        {c.name}\nidentifier:  {c.identifier}")
        click.echo(f"kind:        {c.kind} ({c.class_word})\nhead:        {c.head_name}")
        click.echo(f"version:     {c.version} ({c.head_model or 'not trained'})")
        if c.version:
            from photod.vlm.embeddings import list_embeddings

            vdir = app.catalog.version_dir(c.id, c.version)
            click.echo(f"embeddings:  {', '.join(list_embeddings(vdir)) or 'none (no VLM)'}")
        click.echo(f"metrics:     {json.dumps(c.metrics, sort_keys=True)}")
        for j in index.training.status():
            if j["concept"] == c.name:
                click.echo(f"training:    {j['state']} (attempts {j['attempts']})")
        for e in index.concepts.examples(c.id):
            click.echo(
                f"example:     {e.path} [{e.source}]"
                + (f" face {e.face_box}" if e.face_box else "")
            )


@concept_group.command("remove")
@click.argument("name")
@pass_context
def remove_command(ctx: Context, name: str) -> None:
    """Delete a concept, its versions and its detections (affected photos are re-run)."""
    from photod.index import jobs

    config = ctx.config()
    with build_app(config) as app:
        try:
            c = app.index.concepts.require(name)
        except ConceptError as exc:
            _fail(str(exc))

        def remove(db) -> int:
            paths = store.remove_concept(db, c.id)
            for p in paths:
                jobs.enqueue(db, jobs.INDEX, p, {"force": True})
            return len(paths)

        n = app.index.write(remove)
        app.catalog.artifacts.remove(c.id)
    click.echo(f"{c.name} removed; {n} photo(s) will be re-processed.")


@concept_group.command("train")
@click.argument("name")
@click.option("--later", is_flag=True, help="Only schedule it (the daemon trains it).")
@pass_context
def train_command(ctx: Context, name: str, later: bool) -> None:
    """Train NAME now (or schedule it with --later)."""
    config = ctx.config()
    with build_app(config) as app:
        try:
            c = app.index.concepts.require(name)
            if later:
                due = app.index.write(lambda db: request_training(db, c.id, config.concepts))
                click.echo(f"{c.name}: training scheduled, {relative(due)}.")
                return
            out = app.trainer.train(c.id, progress=sys.stderr.isatty())
        except ConceptError as exc:
            _fail(str(exc))
    click.echo(
        f"{c.name}: version {out.version} active in {out.seconds:.1f} s; "
        f"{len(out.rerun)} photo(s) queued for re-processing; metrics {json.dumps(out.metrics)}"
    )


@concept_group.group("examples")
def examples_group() -> None:
    """Add or remove a concept's example photos."""


@examples_group.command("add")
@click.argument("name")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--face", help="x,y,w,h (fractions) of the person's face in these photos.")
@click.option("--force", is_flag=True, help="Add a face even if it looks like someone else.")
@click.option(
    "--caption",
    help="Your caption of these photos, naming the concept (e.g. 'Rex asleep on the sofa'); "
    "the VLM embeddings learn from it instead of the generated one.",
)
@pass_context
def examples_add(
    ctx: Context,
    name: str,
    paths: tuple[str, ...],
    face: str | None,
    force: bool,
    caption: str | None,
):
    """Add example photos to NAME (schedules a retraining)."""
    _add_examples(
        ctx,
        name,
        [str(Path(p).resolve()) for p in paths],
        _box(face),
        force=force,
        caption=caption,
    )


@examples_group.command("remove")
@click.argument("name")
@click.argument("paths", nargs=-1, required=True)
@pass_context
def examples_remove(ctx: Context, name: str, paths: tuple[str, ...]) -> None:
    """Remove example photos from NAME (schedules a retraining)."""
    config = ctx.config()
    with build_app(config) as app:
        try:
            c = app.index.concepts.require(name)
        except ConceptError as exc:
            _fail(str(exc))

        resolved = [str(Path(p).resolve()) for p in paths]
        n = teach.remove_examples(app.index, c, resolved, config.concepts)
    click.echo(f"{c.name}: {n} example(s) removed" + ("; retraining scheduled." if n else "."))


@click.group("faces")
def faces_group() -> None:
    """Unnamed faces: group them and name the groups."""


@faces_group.command("clusters")
@click.option("--min-size", type=int, help="Smallest group (default: concepts.min_cluster_size).")
@pass_context
def clusters_command(ctx: Context, min_size: int | None) -> None:
    """Update and list the groups of faces that match no person."""
    from photod.faces.clusters import list_clusters

    config = ctx.config()
    size = min_size or config.concepts.min_cluster_size
    with build_app(config) as app:
        cfg = config.concepts.model_copy(update={"min_cluster_size": size})
        teach.refresh_clusters(app.index, app.features, cfg)
        clusters = list_clusters(app.index, size)
    if not clusters:
        click.echo("no groups of unnamed faces yet")
    for c in clusters:
        sample = ", ".join(sorted(set(c.paths))[:3])
        click.echo(f"cluster {c.id}: {c.size} faces, e.g. {sample}")


@faces_group.command("name")
@click.argument("cluster", type=int)
@click.argument("name")
@click.option("--class", "class_word", default="person", help="Class word for a new person.")
@pass_context
def name_command(ctx: Context, cluster: int, name: str, class_word: str) -> None:
    """Make the faces of CLUSTER examples of person NAME (created if new)."""
    config = ctx.config()
    with build_app(config) as app:
        try:
            _, n = teach.name_cluster(app.index, cluster, name, config.concepts, class_word)
        except ConceptError as exc:
            _fail(str(exc))
    click.echo(f"{name}: {n} face(s) added as examples; retraining scheduled.")
