"""The concept and faces commands, end to end on a real index with the real dlib models."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from concept_fixtures import face_variant, index_photos, make_config, save

from photod.cli import Context
from photod.cli.concepts import concept_group, faces_group
from photod.concepts.catalog import artifact_store
from photod.index import concepts as store
from photod.index.db import connect


@pytest.fixture
def cli_env(tmp_path: Path):
    """A config file whose plugin folder loads the built-in heads as a loose plugin file
    (until pyproject.toml declares their entry point), and a CLI root with both groups."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "heads_shim.py").write_text("from photod.heads.builtin import photod_heads\n")
    config = make_config(tmp_path, f"plugins:\n  paths: [{plugins}]\n")
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(cfg_file.read_text() + f"plugins:\n  paths: [{plugins}]\n")

    @click.group()
    @click.pass_context
    def root(ctx):
        ctx.obj = Context(cfg_file)

    root.add_command(concept_group)
    root.add_command(faces_group)
    return CliRunner(), root, config


def test_concept_lifecycle(cli_env, tmp_path):
    runner, root, config = cli_env
    r = runner.invoke(root, ["concept", "list"])
    assert r.exit_code == 0 and r.output.startswith("no concepts yet; teach photod one with")
    ex = [save(face_variant("astronaut", s), tmp_path / f"ex/a{s}.jpg") for s in range(3)]
    r = runner.invoke(
        root, ["concept", "add", "Eileen", "--kind", "person", "--class", "woman", *ex]
    )
    assert r.exit_code == 0, r.output
    assert r.output.endswith("3 example(s) added; retraining in 5 min.\n")  # never a raw time
    assert (config.examples_dir / "Eileen").is_dir()
    r = runner.invoke(root, ["concept", "train", "Eileen"])
    assert r.exit_code == 0 and "version 1 active" in r.output, r.output
    r = runner.invoke(root, ["concept", "list"])
    assert "Eileen\tperson (woman)\tv1\t3 examples\n" in r.output
    r = runner.invoke(root, ["concept", "show", "Eileen"])
    assert "face-keys:dlib-resnet-v1" in r.output and r.output.count("example:") == 3
    cam = save(face_variant("camera", 1), tmp_path / "ex/cam.jpg")
    r = runner.invoke(root, ["concept", "examples", "add", "Eileen", cam])
    assert r.exit_code == 1 and "does not look like Eileen" in r.output  # someone else
    r = runner.invoke(root, ["concept", "examples", "remove", "Eileen", ex[0]])
    assert "1 example(s) removed; retraining scheduled" in r.output
    db = connect(config.index_path, readonly=True)
    assert db.execute("SELECT state FROM training_jobs").fetchall() == [("queued",)]
    r = runner.invoke(root, ["concept", "remove", "Eileen"])
    assert r.exit_code == 0 and store.list_concepts(db) == []
    r = runner.invoke(root, ["concept", "show", "Eileen"])
    assert r.exit_code == 1 and "no concept named 'Eileen'" in r.output
    assert "create it with `photod concept add Eileen --kind" in r.output


def test_faces_clusters_and_naming(cli_env, tmp_path):
    runner, root, config = cli_env
    from concept_fixtures import builtin_registry

    from photod.app import build_app

    lib = tmp_path / "photos"
    photos = [save(face_variant("camera", s), lib / f"c{s}.jpg") for s in range(4)]
    photos.append(save(face_variant("astronaut", 1), lib / "a.jpg"))
    with build_app(config, plugins=builtin_registry()) as app:
        index_photos(app, photos)
    r = runner.invoke(root, ["faces", "clusters", "--min-size", "3"])
    assert r.exit_code == 0 and "cluster 1: 4 faces" in r.output, r.output
    assert "cluster 2" not in r.output  # the lone astronaut face is noise
    r = runner.invoke(root, ["faces", "name", "1", "Bob", "--class", "man"])
    assert r.exit_code == 0, r.output
    db = connect(config.index_path, readonly=True)
    bob = store.find_concept(db, "Bob")
    assert bob.kind == "person" and len(store.list_examples(db, bob.id)) == 4
    assert all(e.face_box and e.source == "cluster" for e in store.list_examples(db, bob.id))
    r = runner.invoke(root, ["concept", "train", "Bob"])
    assert "version 1 active" in r.output and "4 photo(s) queued" in r.output, r.output


def test_multi_face_refusal_suggests_a_command_that_works(cli_env, tmp_path):
    import shlex

    from concept_fixtures import composite

    runner, root, config = cli_env
    both = save(composite(7), tmp_path / "ex/both.jpg")  # the cameraman left, Eileen right
    r = runner.invoke(
        root, ["concept", "add", "Eileen", "--kind", "person", "--class", "woman", both]
    )
    assert r.exit_code == 1 and "2 faces" in r.output, r.output
    suggested = r.output.split("`")[1]
    assert suggested.startswith("photod concept add Eileen --kind person --class woman ")
    # The user picks the right-hand face from the boxes the message lists.
    boxes = r.output.split("faces at ")[1].split(")")[0].split("; ")
    right = max(boxes, key=lambda b: float(b.split(",")[0]))
    words = shlex.split(suggested)[1:]
    words[-1] = right
    r = runner.invoke(root, words)
    assert r.exit_code == 0, r.output
    db = connect(config.index_path, readonly=True)
    eileen = store.find_concept(db, "Eileen")
    examples = store.list_examples(db, eileen.id)
    assert [(e.path, e.face_box) for e in examples] == [(both, tuple(map(float, right.split(","))))]


def test_with_clip_off_a_pet_says_how_to_turn_it_on(cli_env, tmp_path):
    runner, root, _ = cli_env
    off = {"PHOTOD_CLIP__ENABLED": "false"}
    rex = save(face_variant("camera", 2), tmp_path / "ex/rex.jpg")
    r = runner.invoke(
        root, ["concept", "add", "Rex", "--kind", "pet", "--class", "dog", rex], env=off
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(root, ["concept", "train", "Rex"], env=off)
    assert r.exit_code == 1 and "set clip.enabled: true" in r.output


@pytest.mark.parametrize("with_composite", [False, True])
def test_the_astronaut_photo_teaches_eileen(cli_env, tmp_path, with_composite):
    from concept_fixtures import composite, source_image

    from photod.config import DlibFacesConfig
    from photod.faces.base import distances
    from photod.faces.dlib_backend import DlibBackend

    runner, root, config = cli_env
    photos = [save(source_image("astronaut"), tmp_path / "ex/astronaut.jpg")]
    if with_composite:  # the cameraman left, Eileen right: her face matches the other photo
        photos.append(save(composite(7), tmp_path / "ex/both.jpg"))
    r = runner.invoke(
        root, ["concept", "add", "Eileen", "--kind", "person", "--class", "woman", *photos]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(root, ["concept", "train", "Eileen"])
    assert r.exit_code == 0 and "version 1 active" in r.output, r.output
    db = connect(config.index_path, readonly=True)
    eileen = store.find_concept(db, "Eileen")
    assert eileen.metrics["keys"] == len(photos) and eileen.metrics["refused"] == {}
    from safetensors.numpy import load_file

    vdir = artifact_store(config.paths.data_dir).version_dir(eileen.id, 1)
    keys = load_file(vdir / "head.safetensors")["keys"]
    backend = DlibBackend(DlibFacesConfig())
    [her], [him] = backend.detect([face_variant("astronaut", 5), face_variant("camera", 5)])
    assert (distances("l2", keys, her.embedding[None]) < 0.6).all()  # every key is Eileen's
    assert (distances("l2", keys, him.embedding[None]) > 0.6).all()
