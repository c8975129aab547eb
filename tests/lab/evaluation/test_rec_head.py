"""REC with the localizing head as the box source (no grounding VLM configured): a concept
taught with ``photod concept add`` + ``photod concept train`` on a VLM-less installation
whose object head is the patch-prototype head (the toy world's ``toy-features``), then
``photod locate`` on its held-out photos and the ``box source: head`` rows of ``photod eval``.
Real toy photos and their true boxes from the renderer (``boxes.json``), the shipped toy
CLIP and feature model, real SQLite indexes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from photod.cli import cli
from photod.cli.eval import eval_command
from photod.faces.base import iou
from photod_lab.evaluation.dataset import load_dataset
from photod_lab.evaluation.product import PhotodInstallation
from photod_lab.evaluation.rec import RecConfig
from photod_lab.evaluation.rec_head import HeadRecEvaluator
from photod_lab.toyworld.concepts import toy_concepts
from photod_lab.toyworld.dataset import write_toy_dataset
from photod_lab.toyworld.fixture import fixture_dir

KEYS = ("dotted_star", "hatted_person", "ringed_circle")
NEGATIVES = 30


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    keep = [c for c in toy_concepts() if c.key in KEYS]
    # Mostly other photos, as a library is (the head's threshold and prototypes assume a
    # concept is in under a tenth of it).
    return write_toy_dataset(
        tmp_path_factory.mktemp("toy"),
        seed=5,
        per_concept=8,
        negatives=NEGATIVES,
        multi=2,
        concepts=keep,
    )


@pytest.fixture(scope="module")
def installation(dataset, tmp_path_factory) -> PhotodInstallation:
    photod = PhotodInstallation(
        dataset,
        None,
        fixture_dir("toy-clip"),
        tmp_path_factory.mktemp("photod"),
        fixture_dir("toy-features"),
    )
    photod.index_library()
    return photod


def test_locate_answers_with_the_heads_box(installation, dataset) -> None:
    data = load_dataset(dataset)
    star = next(c for c in data.concepts if c.info.key == "dotted_star")
    out = installation.run_split([(star, star.images[:4])], "generated")
    assert out.heads["dotted_star"]["threshold"] > 0
    runner = CliRunner()
    overlaps = []
    for photo in star.images[4:]:
        args = ["--config", str(installation.config_path), "locate", str(photo), "dotted_star"]
        result = runner.invoke(cli, [*args, "--json"])
        found = json.loads(result.stdout)
        assert found["source"] == "head" and found["concept"] == "dotted_star"
        if found["box"] is None:
            assert result.exit_code == 1 and found["reason"] in result.output
            continue
        assert result.exit_code == 0 and found["model"].startswith("prototypes:patches:")
        # The box `photod locate` gives is the one the daemon wrote into the index.
        assert found["box"] == pytest.approx(out.boxes[photo.resolve()]["dotted_star"])
        overlaps.append(iou(tuple(found["box"]), tuple(star.boxes[photo.name])))
    # It fires on most held-out photos, and most of its boxes are on the star (about 60% at
    # IoU >= 0.5 on the toy world's tuning draw: the star's tips lie outside its true box).
    assert len(overlaps) >= 3 and sum(o >= 0.4 for o in overlaps) >= 3


def test_head_rows_score_the_boxes_the_daemon_wrote(installation, dataset) -> None:
    data = load_dataset(dataset)
    section = HeadRecEvaluator(installation, RecConfig(shots=(1, 4)), progress=False).run(data)
    assert section["box_source"] == "head"
    for shots in ("1", "4"):
        [split] = section[shots]["splits"]
        for key in KEYS:
            row = split[key]
            n_absent = NEGATIVES + 2 * (8 - int(shots))
            assert row["n"] == 8 - int(shots) and row["n_absent"] == n_absent
            assert 0 <= row["accuracy"] <= row["fired_rate"] <= 1
            assert 0 <= row["absent_box_rate"] <= 1
    # One example calibrates on its mirror image: it finds less, four find most, and both
    # are rarely on where the concept is not.
    assert (
        0
        < section["1"]["overall"]["fired_rate"]["mean"]
        < section["4"]["overall"]["fired_rate"]["mean"]
    )
    assert section["1"]["overall"]["absent_box_rate"]["mean"] <= 0.25
    assert section["4"]["overall"]["fired_rate"]["mean"] >= 0.5
    assert section["4"]["overall"]["absent_box_rate"]["mean"] <= 0.25


def test_eval_prints_the_head_rows(dataset, tmp_path) -> None:
    out = tmp_path / "report.json"
    args = [str(dataset), "--task", "rec", "--rec-source", "head", "--rec-shots", "4"]
    result = CliRunner().invoke(
        eval_command, [*args, "--splits", "1", "--no-progress", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "REC, box source: head (object heads" in result.output
    report = json.loads(out.read_text())
    assert "rec" not in report and set(report["rec_head"]["4"]["overall"]) == {
        "accuracy",
        "absent_box_rate",
        "fired_rate",
    }
