"""``photod eval --personalizer myvlm`` runs photod's own path: concepts train through
``train_concept_embedding`` (what ``photod concept train`` runs) with the settings of the
model's ``photod.yaml``, and captions come from the runtime's ``describe`` (what the daemon
runs). Real toy LLaVA fixture (copied, with short training settings), real toy photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import photod_lab.evaluation.myvlm as myvlm
from photod.cli.eval import eval_command
from photod.config import VlmTrainingConfig
from photod.vlm.embeddings import list_embeddings, load_embedding
from photod.vlm.runtime import VlmRuntime
from photod_lab.toyworld.concepts import toy_concepts
from photod_lab.toyworld.dataset import write_toy_dataset
from photod_lab.toyworld.fixture import SETTINGS, fixture_dir, model_config


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    keep = [c for c in toy_concepts() if c.key in ("dotted_star", "hatted_person", "ringed_circle")]
    return write_toy_dataset(
        tmp_path_factory.mktemp("toy"), per_concept=5, negatives=3, multi=3, concepts=keep
    )


@pytest.fixture
def quick_llava(tmp_path: Path) -> Path:
    """The toy LLaVA with its shipped settings, trained for a few steps only."""
    out = tmp_path / "quick-llava"
    shutil.copytree(fixture_dir("toy-llava"), out)
    entry = yaml.safe_load((out / SETTINGS).read_text())
    entry["training"].update(steps=3, views=1, mirrors=["horizontal"])
    (out / SETTINGS).write_text(yaml.safe_dump(entry))
    return out


@pytest.mark.parametrize("name", ["toy-blip2", "toy-llava"])
def test_fixture_settings_are_a_valid_model_entry(name: str) -> None:
    entry = model_config(fixture_dir(name))
    assert entry.id == name and entry.model == f"local-dir:{fixture_dir(name).resolve()}"
    assert entry.training != VlmTrainingConfig()  # the toy settings, not the defaults
    shipped = yaml.safe_load((fixture_dir(name) / SETTINGS).read_text())["training"]
    assert entry.training.model_dump(include=set(shipped)) == shipped


def test_variants_are_overrides_of_the_model_settings() -> None:
    entry = model_config(fixture_dir("toy-blip2"))
    assert myvlm.variant_entry(entry, "myvlm") == entry
    ablated = myvlm.variant_entry(entry, "no_kv_norm").training
    assert ablated == entry.training.model_copy(update={"kv_norm_match": False})
    assert myvlm.variant_entry(entry, "reference").training == VlmTrainingConfig(vqa=False)
    with pytest.raises(KeyError, match="unknown variant"):
        myvlm.variant_entry(entry, "no_such_thing")


def test_eval_trains_through_concept_training_and_captions_through_describe(
    small_dataset: Path, quick_llava: Path, tmp_path: Path, monkeypatch
) -> None:
    trained = []  # what each training returned and wrote (the folders are temporary)
    real_train = myvlm.train_concept_embedding

    def train_spy(runtime, **kwargs):
        out = real_train(runtime, **kwargs)
        folder = kwargs["version_dir"]
        trained.append((out, list_embeddings(folder), load_embedding(folder, "quick-llava")))
        return out

    described: list[str | None] = []
    real_describe = VlmRuntime.describe

    def describe_spy(self, *args, **kwargs):
        desc = real_describe(self, *args, **kwargs)
        described.append(desc.caption)
        return desc

    monkeypatch.setattr(myvlm, "train_concept_embedding", train_spy)
    monkeypatch.setattr(VlmRuntime, "describe", describe_spy)
    out = tmp_path / "myvlm.json"
    result = CliRunner().invoke(
        eval_command,
        [str(small_dataset), "--model", str(quick_llava), "--personalizer", "myvlm"]
        + ["--splits", "1", "--gate", "oracle", "--targets", "dataset"]
        + ["--clip-model", "none", "--text-model", "none"]
        + ["--json", str(out), "--no-progress"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["personalizer"] == "myvlm:quick-llava"
    for metric in ("recall", "false_identifier_rate", "scene_accuracy"):
        assert "mean" in report["overall"][metric]
    assert "mean" in report["multi"]["by_count"]["2"]["f1"]

    # One training per concept, each written as `photod concept train` writes it.
    assert len(trained) == 3
    settings = model_config(quick_llava).training.model_dump(exclude={"vqa"})
    for metas, written, (vector, meta) in trained:
        assert written == ["quick-llava"]
        assert vector.shape == (1, 128)
        assert meta == json.loads(json.dumps(metas["quick-llava"], default=str))
        assert meta["settings"] == settings  # the model's photod.yaml, nothing else
    # Every caption of the report came from describe.
    captions = [
        c for s in report["splits"] for r in s["concepts"].values() for _, c in r["examples"]
    ]
    assert captions and set(captions) <= set(described)
