"""The personalize stage, the caption/ask commands, VlmConfig and embedding files, with a
tiny LLaVA saved as a local model directory and a real SQLite index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import images, tiny_llava

import photod.vlm.registry as vlm_registry
from photod.app import App, build_app
from photod.cli import Context
from photod.cli.vlm import ask_command, caption_command
from photod.concepts.catalog import artifact_store
from photod.config import Config, VlmConfig, VlmModelConfig, load_config
from photod.errors import ConfigError
from photod.index import Index
from photod.index.concepts import add_concept
from photod.index.jobs import Job
from photod.pipeline.task import Detection, PhotoTask
from photod.plugins import PluginRegistry
from photod.stages.personalize import PersonalizeStage
from photod.vlm.embeddings import list_embeddings, load_embedding, save_embedding


def _vdir(config, concept_id: int, version: int):
    """The concept store's folder of one version."""
    return artifact_store(config.paths.data_dir).version_dir(concept_id, version)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny LLaVA written with save_pretrained (a local model reference)."""
    out = tmp_path_factory.mktemp("models") / "tiny-llava"
    model, proc = tiny_llava("llama")
    model.save_pretrained(out)
    proc.save_pretrained(out)
    return out


def _vlm_config(model_dir: Path, **kw) -> VlmConfig:
    return VlmConfig(
        models=[
            VlmModelConfig(
                id="tiny",
                model=f"local-dir:{model_dir}",
                caption_prompt="describe the image {concepts}",
                plain_caption_prompt="describe the image",
            )
        ],
        max_new_tokens=5,
        questions=["what is {concept} doing ?"],
        **kw,
    )


def _registry() -> PluginRegistry:
    reg = PluginRegistry()
    reg.register(vlm_registry, "vlm", "test")  # as the entry point would
    return reg


def _personalize(app: App) -> PersonalizeStage | None:
    return next((s for s in app.stages if isinstance(s, PersonalizeStage)), None)


def _task(image, detections=()) -> PhotoTask:
    return PhotoTask(
        job=Job(1, "index", "/x.png"), path=Path("/x.png"), image=image, detections=list(detections)
    )


def test_stage_captions_with_fired_concepts_and_plain_photos(config: Config, model_dir):
    config.vlm = _vlm_config(model_dir)
    img = images(1)[0]
    with build_app(config, plugins=_registry()) as app:
        rex = app.index.write(
            lambda db: add_concept(db, "Rex", kind="pet", class_word="dog", identifier="rex").id
        )
        emb = torch.rand(1, 48)
        save_embedding(_vdir(config, rex, 1), "tiny", emb, {"steps": 3})
        stage = _personalize(app)
        assert stage is not None and stage.runtime is app.vlm
        fired = _task(img, [Detection(rex, 0.9, "head", 1), Detection(rex, 0.7, "head", 1)])
        stage.process(fired)
        assert [(c.model, c.concept_versions) for c in fired.captions] == [("tiny", {"Rex": 1})]
        assert [(a.question, a.model) for a in fired.answers] == [("what is rex doing ?", "tiny")]
        plain = _task(img)
        stage.process(plain)
        assert plain.answers == [] and plain.captions[0].concept_versions == {}
        # The untouched model's caption, token for token.
        session = stage.runtime.session("tiny")
        ids, mask = session.pad_left([session.prefix_ids(session.prompt_text(None, []))])
        out = session.model.generate(
            input_ids=ids,
            attention_mask=mask,
            pixel_values=session.pixel_values([img]),
            max_new_tokens=5,
            do_sample=False,
        )
        expected = session.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
        assert plain.captions[0].text == expected.strip()
        stage.close()

    config.vlm = _vlm_config(model_dir, plain_captions=False)
    with build_app(config, plugins=_registry()) as app:
        stage = _personalize(app)
        quiet = _task(img)
        stage.process(quiet)
        assert quiet.captions == [] and quiet.answers == []


def test_stage_is_off_without_models_or_backends(config: Config, model_dir):
    with build_app(config, plugins=_registry()) as app:
        assert _personalize(app) is None and app.vlm is None
        assert "personalize" in app.inactive_stages
    config.vlm = _vlm_config(model_dir)
    with build_app(config, plugins=PluginRegistry()) as app:
        assert _personalize(app) is None and app.vlm is None


def test_vlm_config_section(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text(
        "vlm:\n  models:\n    - {id: small, model: 'hf-hub:org/repo'}\n  plain_captions: false\n"
    )
    cfg = load_config(f, environ={"PHOTOD_VLM__DTYPE": "fp32"})
    assert cfg.vlm.models[0].training.learning_rate == 1.0  # reference default
    assert cfg.vlm.dtype == "fp32" and cfg.vlm.plain_captions is False
    f.write_text("vlm:\n  models:\n    - {id: a, model: x}\n    - {id: a, model: y}\n")
    with pytest.raises(ConfigError, match="unique"):
        load_config(f, environ={})
    f.write_text("vlm:\n  models:\n    - {id: a, model: x, training: {concept_attention: mixed}}\n")
    with pytest.raises(ConfigError, match="concept_attention"):
        load_config(f, environ={})


def test_model_config_shapes_the_session_and_its_training(model_dir):
    """How a token enters the model (norm matching, scale, concept attention) comes from the
    model's config, for captions and for training alike."""
    from photod.vlm.runtime import VlmRuntime

    cfg = _vlm_config(model_dir)
    training = cfg.models[0].training
    training.concept_attention, training.concept_scale = "separate", 1.5
    runtime = VlmRuntime(cfg, vlm_registry.photod_vlm_backends(), None)
    settings = runtime.session("tiny").settings
    assert (settings.concept_attention, settings.concept_scale) == ("separate", 1.5)
    assert runtime.training_settings("tiny").concept_attention == "separate"


def test_idle_vlm_is_unloaded_by_the_tick_and_reloaded_when_needed(model_dir):
    """``vlm.idle_unload_seconds`` through the model-session layer (no patched clock)."""
    from photod.models.cache import ModelSessions
    from photod.vlm.runtime import VlmRuntime

    runtime = VlmRuntime(
        _vlm_config(model_dir, idle_unload_seconds=30), vlm_registry.photod_vlm_backends(), None
    )
    sessions = ModelSessions(release=lambda: None)
    for model in runtime.models.values():
        sessions.add(model)
    image = images(1)[0]
    first = runtime.describe("tiny", image, [])
    model = runtime.models["tiny"]
    assert model.loaded and model.memory_bytes() > 0
    with runtime.use("tiny"):  # a training in progress keeps it
        assert sessions.tick(model.last_used + 3600) == []
    assert sessions.tick(model.last_used + 29) == []
    assert sessions.tick(model.last_used + 31) == ["vlm tiny"] and not model.loaded
    assert runtime.describe("tiny", image, []) == first  # loaded again on demand


def test_embedding_files_roundtrip(tmp_path):
    t = torch.rand(1, 8)
    save_embedding(tmp_path, "hf-hub:org/model", t, {"loss": 0.5})
    got, meta = load_embedding(tmp_path, "hf-hub:org/model")
    assert torch.equal(got, t) and meta == {"loss": 0.5}
    assert load_embedding(tmp_path, "other") is None
    assert list_embeddings(tmp_path) == ["hf-hub:org/model"]


def test_caption_and_ask_commands(tmp_path, photo_root, model_dir, monkeypatch):
    from photod.vlm.runtime import VlmRuntime

    described = []  # `photod caption` captions through the daemon's describe
    real_describe = VlmRuntime.describe

    def describe_spy(self, *args, **kwargs):
        desc = real_describe(self, *args, **kwargs)
        described.append(desc.caption)
        return desc

    monkeypatch.setattr(VlmRuntime, "describe", describe_spy)
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    # A loose plugin file: the same hook the entry point registers.
    (plugin_dir / "vlm_builtin.py").write_text(
        "from photod.vlm.registry import photod_vlm_backends  # noqa: F401\n"
    )
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"paths: {{data_dir: {tmp_path / 'data'}, cache_dir: {tmp_path / 'cache'}, "
        f"state_dir: {tmp_path / 'state'}}}\nlibrary: {{roots: [{photo_root}]}}\n"
        f"plugins: {{paths: [{plugin_dir}]}}\n"
        f"vlm:\n  max_new_tokens: 4\n  models:\n    - id: tiny\n      model: {model_dir}\n"
        "      plain_caption_prompt: describe the image\n"
    )
    photo = photo_root / "p.png"
    images(1)[0].save(photo)
    runner = CliRunner()
    r = runner.invoke(caption_command, [str(photo), "--plain", "--json"], obj=Context(cfg))
    assert r.exit_code == 0, r.output
    assert '"model": "tiny"' in r.output and '"concepts": []' in r.output
    assert [out["text"] for out in json.loads(r.stdout)] == described
    r = runner.invoke(ask_command, [str(photo), "what is the image ?", "--plain"], obj=Context(cfg))
    assert r.exit_code == 0, r.output
    r = runner.invoke(caption_command, [str(photo), "--concept", "Nobody"], obj=Context(cfg))
    assert r.exit_code != 0 and "Nobody" in str(r.exception)
    config = load_config(cfg, environ={})
    with Index(config.index_path) as index:
        rex = index.write(
            lambda db: add_concept(db, "Rex", kind="pet", class_word="dog", identifier="rex")
        )
        index.write(
            lambda db: db.execute("UPDATE concepts SET version = 2 WHERE id = ?", (rex.id,))
        )
    save_embedding(_vdir(config, rex.id, 2), "tiny", torch.rand(1, 48))
    r = runner.invoke(caption_command, [str(photo), "--concept", "Rex", "--json"], obj=Context(cfg))
    assert r.exit_code == 0, r.output
    assert '"concepts": [\n      "rex"\n    ]' in r.output
    assert len(described) == 2


def test_concept_training_entry_point_writes_one_embedding_per_vlm(config: Config, model_dir):
    from photod.vlm.concept_training import train_concept_embedding
    from photod.vlm.runtime import VlmRuntime
    from photod.vlm.targets import OBJECT_QUESTIONS

    config.vlm = _vlm_config(model_dir)
    config.vlm.models[0].training.steps = 3
    config.vlm.models[0].training.views = 2
    config.vlm.models[0].training.mirrors = ["horizontal"]
    runtime = VlmRuntime(config.vlm, vlm_registry.photod_vlm_backends(), config.paths.cache_dir)
    version_dir = _vdir(config, 7, 2)
    metas = train_concept_embedding(
        runtime,
        identifier="rex",
        class_word="dog",
        kind="pet",
        images=images(2),
        version_dir=version_dir,
        fired=[True, False],
        targets={1: [(None, "rex on a mat")]},
        progress=False,
    )
    vec, meta = load_embedding(version_dir, "tiny")
    assert vec.shape == (1, 48) and torch.allclose(vec.norm(), torch.tensor(1.0))
    assert metas["tiny"]["settings"]["steps"] == 3 and meta["identifier"] == "rex"
    assert meta["targets"][1] == [[None, "rex on a mat"]]  # the user's target wins
    # The object/pet VQA pool; no caption: this random model's captions never name a dog.
    assert [q for q, _ in meta["targets"][0]] == [q.replace("{}", "rex") for q in OBJECT_QUESTIONS]
    # Only the image the head fired on is mirrored; a kept mirror image names the concept
    # (this random model rarely says "dog": tests/vlm/test_mirrors.py checks real captions).
    assert meta["settings"]["mirrors"] == ["horizontal"] and len(meta["mirror_targets"]) <= 1
    assert all(t.startswith("rex") or " rex" in t for [[_, t]] in meta["mirror_targets"])


def test_two_fired_concepts_each_append_a_token(config: Config, model_dir):
    config.vlm = _vlm_config(model_dir)
    with build_app(config, plugins=_registry()) as app:
        ids = [
            app.index.write(lambda db, n=n: add_concept(db, n, kind="pet", class_word="dog").id)
            for n in ("Rex", "Luna")
        ]
        for cid in ids:
            save_embedding(_vdir(config, cid, 1), "tiny", torch.rand(1, 48))
        stage = _personalize(app)
        seen = []
        session = stage.runtime.session("tiny")
        real = session.place_concepts
        session.place_concepts = lambda ids_, count: seen.append(count) or real(ids_, count)
        task = _task(images(1)[0], [Detection(ids[1], 0.9, "h", 1), Detection(ids[0], 0.8, "h", 1)])
        stage.process(task)
        assert task.captions[0].concept_versions == {"Rex": 1, "Luna": 1}
        assert [a.question for a in task.answers] == ["what is Rex doing ?", "what is Luna doing ?"]
        assert set(seen) == {2}  # every prompt carries both concept tokens
