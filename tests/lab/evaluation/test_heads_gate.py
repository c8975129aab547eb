"""``photod eval --gate heads`` (the default) measures photod itself: concepts are taught
with ``photod concept add`` + ``photod concept train`` on a private installation whose library
is the dataset's folder, and the daemon's heads decide where an embedding is appended. Real
toy photos, the shipped toy CLIP, a copy of the toy LLaVA with short training settings, real
SQLite indexes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from photod.cli.eval import eval_command
from photod_lab.evaluation.dataset import load_dataset
from photod_lab.evaluation.product import PhotodInstallation
from photod_lab.toyworld.concepts import toy_concepts
from photod_lab.toyworld.dataset import write_toy_dataset
from photod_lab.toyworld.fixture import SETTINGS, fixture_dir

KEYS = ("dotted_star", "hatted_person", "ringed_circle")


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    keep = [c for c in toy_concepts() if c.key in KEYS]
    return write_toy_dataset(
        tmp_path_factory.mktemp("toy"), per_concept=6, negatives=6, multi=6, concepts=keep
    )


@pytest.fixture(scope="module")
def quick_llava(tmp_path_factory) -> Path:
    """The toy LLaVA with its shipped settings, trained for a few steps only."""
    out = tmp_path_factory.mktemp("models") / "quick-llava"
    shutil.copytree(fixture_dir("toy-llava"), out)
    entry = yaml.safe_load((out / SETTINGS).read_text())
    entry["training"].update(steps=3, views=1, mirrors=["horizontal"])
    (out / SETTINGS).write_text(yaml.safe_dump(entry))
    return out


@pytest.fixture(scope="module")
def installation(small_dataset, quick_llava, tmp_path_factory) -> PhotodInstallation:
    photod = PhotodInstallation(
        small_dataset, quick_llava, fixture_dir("toy-clip"), tmp_path_factory.mktemp("photod")
    )
    photod.index_library()
    return photod


def test_the_heads_decide_where_a_concept_is_named(installation, small_dataset) -> None:
    data = load_dataset(small_dataset)
    taught = [(c, c.images[:4]) for c in data.concepts]
    out = installation.run_split(taught, "generated")
    base = installation.base_captions()
    # Every photo of the library was captioned, once by the base model, once after teaching.
    assert set(out.captions) == set(base) and len(base) == 6 * 3 + 6 + 6
    # Each concept was trained by `photod concept train`: its head chose a threshold.
    assert set(out.heads) == set(KEYS)
    assert all(0 < out.heads[k]["threshold"] < 1 for k in KEYS)
    fired_somewhere = [p for p in base if out.fired.get(p)]
    assert fired_somewhere  # the heads fire at least on (some of) their examples
    for photo, caption in out.captions.items():
        if not out.fired.get(photo):
            # A photo every head rejected is the base model's, untouched by any embedding.
            assert caption == base[photo], photo
    # A second split starts again from the indexed library: no concept of the first remains.
    again = installation.run_split(taught[:1], "generated")
    assert set(again.heads) == {KEYS[0]}
    assert all(keys <= {KEYS[0]} for keys in again.fired.values())


def test_dataset_targets_are_the_users_captions(installation, small_dataset) -> None:
    data = load_dataset(small_dataset)
    concept = data.concepts[0]
    installation.run_split([(concept, concept.images[:4])], "dataset")
    metas = list((installation.work / "data_dir").rglob("meta.json"))
    assert len(metas) == 1
    meta = json.loads(metas[0].read_text())
    targets = {t for per_image in meta["vlm"]["quick-llava"]["targets"] for _, t in per_image}
    wanted = {concept.captions[Path(p).name][0] for p in meta["vlm_examples"]}
    assert wanted and wanted <= targets


def test_eval_reports_caption_and_head_figures(small_dataset, quick_llava, tmp_path) -> None:
    out = tmp_path / "heads.json"
    result = CliRunner().invoke(
        eval_command,
        [str(small_dataset), "--model", str(quick_llava), "--splits", "1", "--threads", "1"]
        + ["--clip-model", "none", "--text-model", "none", "--json", str(out), "--no-progress"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "head TPR" in result.output
    report = json.loads(out.read_text())
    assert report["personalizer"] == "photod:quick-llava"
    assert (report["config"]["gate"], report["config"]["targets"]) == ("heads", "generated")
    for metric in ("recall", "false_identifier_rate", "scene_accuracy", "base_scene_accuracy"):
        assert 0 <= report["overall"][metric]["mean"] <= 1
    for metric in ("head_tpr", "head_fpr", "head_threshold"):
        assert 0 <= report["overall"][metric]["mean"] <= 1
        assert set(report["per_concept"]) == set(KEYS)
    assert "mean" in report["multi"]["by_count"]["2"]["f1"]


def test_heads_gate_is_photods_own_method(small_dataset) -> None:
    result = CliRunner().invoke(eval_command, [str(small_dataset), "--personalizer", "base"])
    assert result.exit_code == 2 and "--gate oracle" in result.output
