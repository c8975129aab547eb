"""`photod concept train` with VLMs configured: the head and one embedding per VLM, trained on
the same examples, written into the version folder before it appears, then used by the
personalize stage. Real toy-world photos, the shipped toy CLIP and toy LLaVA fixtures, a real
SQLite index."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner
from concept_fixtures import builtin_registry, index_photos, make_config

import photod.vlm.registry as vlm_registry
from photod.app import build_app
from photod.cli import Context
from photod.cli.concepts import examples_add, show_command
from photod.concepts.catalog import artifact_store
from photod.index import Index
from photod.index import concepts as store
from photod.vlm.embeddings import list_embeddings, load_embedding
from photod_lab.toyworld.concepts import concept_scene, toy_concepts
from photod_lab.toyworld.fixture import fixtures_root
from photod_lab.toyworld.scenes import SceneGenerator

FIXTURES = fixtures_root()

VLM_YAML = f"""
vlm:
  models:
    - id: toy
      model: local-dir:{FIXTURES / "toy-llava"}
      training: {{steps: 12, views: 2, init_scale: 30, learning_rate: 0.3, vqa: false}}
  questions: ["where is {{concept}} ?"]
  max_new_tokens: 12
concepts:
  holdout_fraction: 0.25
"""


def _vdir(config, concept_id: int, version: int):
    """The concept store's folder of one version."""
    return artifact_store(config.paths.data_dir).version_dir(concept_id, version)


def _concept_photos(tmp_path: Path, which: int = 0, seed: int = 3) -> list[str]:
    """Eight photos of one toy-world concept (0: the dotted star, bob)."""
    concept = toy_concepts()[which]
    rng = np.random.default_rng(seed)
    examples = []
    for i in range(8):
        scene = concept_scene(rng, [concept], n_other=int(rng.integers(0, 2)))
        path = tmp_path / "examples" / f"{concept.identifier}-{i}.png"
        path.parent.mkdir(exist_ok=True)
        scene.image().save(path)
        examples.append(str(path))
    return examples


def _photos(tmp_path: Path) -> tuple[list[str], list[str]]:
    """Eight photos of the toy world's dotted star (bob) and twelve without it."""
    examples = _concept_photos(tmp_path)
    root = tmp_path / "photos"
    library = []
    for i, scene in enumerate(SceneGenerator(11).batch(12)):
        path = root / f"other-{i}.png"
        scene.image().save(path)
        library.append(str(path))
    return examples, library


def test_concept_training_writes_one_embedding_per_vlm_on_the_heads_split(tmp_path):
    config = make_config(tmp_path, VLM_YAML, clip_dir=FIXTURES / "toy-clip")
    examples, library = _photos(tmp_path)
    reg = builtin_registry()
    reg.register(vlm_registry, "builtin_vlm_backends", "test")
    with build_app(config, plugins=reg) as app:
        index = app.index
        index_photos(app, library)  # negatives for the object head
        cid = index.write(
            lambda db: (
                store.add_concept(db, "Bob", kind="object", class_word="star", identifier="bob").id
            )
        )
        index.write(
            lambda db: [
                store.add_example(db, cid, p, caption="bob above a red circle" if i == 1 else None)
                for i, p in enumerate(examples)
            ]
        )
        trainer = app.trainer
        assert trainer.vlm is app.vlm  # the personalize stage's runtime: one model per process
        out = trainer.train(cid)

        vdir = _vdir(config, cid, out.version)
        meta = json.loads((vdir / "meta.json").read_text())
        # The head held 2 of 8 examples out for its metrics; the embedding never saw them.
        assert out.metrics["examples"] == 8 and out.metrics["positives"] > 0
        assert len(meta["vlm_examples"]) == 6
        assert set(meta["vlm_examples"]) < set(examples)
        assert list_embeddings(vdir) == ["toy"]
        vector, emb_meta = load_embedding(vdir, "toy")
        assert vector.shape == (1, 128)
        assert abs(float(vector.norm()) - 1.0) < 1e-4
        assert emb_meta["examples"] == 6 and emb_meta["settings"]["steps"] == 12
        assert meta["vlm"]["toy"]["identifier"] == "bob"
        # Generated targets name the concept by its identifier; the user's caption wins.
        targets = [t for per_image in meta["vlm"]["toy"]["targets"] for _, t in per_image]
        user = examples[1] in meta["vlm_examples"]
        assert ("bob above a red circle" in targets) == user
        assert all(re.search(r"\bbob\b", t) for t in targets), targets
        assert out.metrics["vlm_seconds"] > 0
        shown = CliRunner().invoke(show_command, ["Bob"], obj=Context(tmp_path / "config.yaml"))
        assert "embeddings:  toy" in shown.output, shown.output

        # The personalize stage now appends the embedding where the head fires.
        index_photos(app, examples[:2])
        rows = (
            app.index.reader()
            .execute(
                "SELECT c.concept_versions, c.model FROM captions c JOIN photos p "
                "ON p.id = c.photo_id WHERE p.path IN (?, ?)",
                tuple(examples[:2]),
            )
            .fetchall()
        )
        fired = [r for r in rows if json.loads(r[0])]
        assert fired, "the head fired on none of its own examples"
        assert all(json.loads(v) == {"Bob": out.version} and m == "toy" for v, m in fired)


def test_examples_add_stores_the_users_caption(tmp_path):
    config = make_config(tmp_path)
    path = tmp_path / "rex.png"
    SceneGenerator(1).sample().image().save(path)
    with Index(config.index_path) as index:
        index.write(lambda db: store.add_concept(db, "Rex", kind="pet", class_word="dog"))
    res = CliRunner().invoke(
        examples_add,
        ["Rex", str(path), "--caption", "Rex asleep on the sofa"],
        obj=Context(tmp_path / "config.yaml"),
    )
    assert res.exit_code == 0, res.output
    db = Index(config.index_path).reader()
    (ex,) = store.list_examples(db, store.require_concept(db, "Rex").id)
    assert ex.caption == "Rex asleep on the sofa"
    # Re-adding without --caption (e.g. the examples folder) keeps the user's caption.
    with Index(config.index_path) as index:
        changed = index.write(lambda db: store.add_example(db, ex.concept_id, str(path)))
    assert not changed
    assert store.list_examples(db, ex.concept_id)[0].caption == "Rex asleep on the sofa"


def test_a_new_embedding_trains_beside_the_other_concepts_active_ones(tmp_path):
    yaml = VLM_YAML.replace("vqa: false}", "vqa: false, distractor_share: 0.5}")
    config = make_config(tmp_path, yaml, clip_dir=FIXTURES / "toy-clip")
    bob, library = _photos(tmp_path)
    luna = _concept_photos(tmp_path, which=1, seed=4)
    reg = builtin_registry()
    reg.register(vlm_registry, "builtin_vlm_backends", "test")
    with build_app(config, plugins=reg) as app:
        index = app.index
        index_photos(app, library)

        def add(name, ident, word, paths):
            cid = index.write(
                lambda db: (
                    store.add_concept(db, name, kind="object", class_word=word, identifier=ident).id
                )
            )
            index.write(lambda db: [store.add_example(db, cid, p) for p in paths])
            return cid

        bob_id = add("Bob", "bob", "star", bob)
        luna_id = add("Luna", "luna", "square", luna)  # not trained yet: no embedding
        trainer = app.trainer
        first = trainer.train(bob_id)
        assert app.catalog.active().embeddings_except("toy", bob_id) == []
        second = trainer.train(luna_id)
        bob_vec, bob_meta = load_embedding(_vdir(config, bob_id, first.version), "toy")
        _, luna_meta = load_embedding(_vdir(config, luna_id, second.version), "toy")
        assert bob_meta["distractors"] == 0  # the first concept had no other to train beside
        assert luna_meta["distractors"] == 1 and luna_meta["settings"]["distractor_share"] == 0.5
        # Luna's training read Bob's active embedding, and only that: never its own.
        (got,) = app.catalog.active().embeddings_except("toy", luna_id)
        assert torch.equal(got, bob_vec)
