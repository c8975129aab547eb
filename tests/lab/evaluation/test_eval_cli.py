"""``photod eval`` end to end on a small toy subset, with the shipped toy fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from photod.cli.eval import eval_command
from photod_lab.toyworld.concepts import toy_concepts
from photod_lab.toyworld.dataset import write_toy_dataset


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    keep = [c for c in toy_concepts() if c.key in ("dotted_star", "hatted_person")]
    return write_toy_dataset(
        tmp_path_factory.mktemp("toy"), per_concept=6, negatives=4, multi=3, concepts=keep
    )


def _run(dataset: Path, out: Path, *extra: str) -> dict:
    result = CliRunner().invoke(
        eval_command,
        [
            str(dataset),
            "--model",
            "toy-llava",
            "--splits",
            "2",
            "--json",
            str(out),
            "--no-progress",
            "--gate",
            "oracle",
            *extra,
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "recall" in result.output and "ALL" in result.output
    return json.loads(out.read_text())


def test_base_model_is_the_floor(small_dataset: Path, tmp_path: Path) -> None:
    report = _run(small_dataset, tmp_path / "base.json", "--personalizer", "base")
    assert report["personalizer"] == "base:toy-llava"
    overall = report["overall"]
    # The base model was never taught these identifiers for these looks: it is the floor.
    assert overall["recall"]["mean"] <= 0.2
    assert overall["false_identifier_rate"]["mean"] <= 0.2
    for metric in ("text_similarity", "clipscore", "scene_accuracy"):
        assert metric in overall
    assert len(report["splits"]) == 2
    assert set(report["per_concept"]) == {"dotted_star", "hatted_person"}
    assert report["multi"]["recall"]["mean"] <= 0.2


def test_substitution_reference_names_concepts(small_dataset: Path, tmp_path: Path) -> None:
    report = _run(
        small_dataset, tmp_path / "sub.json", "--personalizer", "substitute", "--text-model", "clip"
    )
    overall = report["overall"]
    # Every exactly described scene names the concept (the rest may name it too).
    assert overall["recall"]["mean"] >= overall["scene_accuracy"]["mean"]
    for split in report["splits"]:
        for row in split["concepts"].values():
            for _, caption in row["examples"]:
                assert isinstance(caption, str)


def test_rec_section_with_the_grounding_fixture(small_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "rec.json"
    result = CliRunner().invoke(
        eval_command,
        [
            str(small_dataset), "--model", "toy-llava-ground", "--task", "rec",
            "--concept", "dotted_star", "--splits", "1", "--rec-shots", "1",
            "--max-heldout", "2", "--max-negatives", "3", "--json", str(out), "--no-progress",
        ],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "REC, box source: vlm (toy-llava-ground" in result.output
        and "1 image(s): accuracy=" in result.output
    )
    rec = json.loads(out.read_text())["rec"]
    assert rec["model"] == "toy-llava-ground" and list(rec["config"]["shots"]) == [1]
    row = rec["1"]["splits"][0]["dotted_star"]
    assert row["n"] == 2 and row["n_absent"] == 3
    for metric in ("accuracy", "absent_box_rate", "base_accuracy", "base_absent_box_rate"):
        assert 0.0 <= rec["1"]["overall"][metric]["mean"] <= 1.0


def test_rec_needs_a_grounding_model(small_dataset: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        eval_command,
        [str(small_dataset), "--model", "toy-llava", "--task", "rec", "--concept", "dotted_star",
         "--splits", "1", "--rec-shots", "1", "--json", str(tmp_path / "r.json"), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code != 0 and "no grounding settings" in result.output
