"""The toy trainer end to end on a model small enough to run in seconds: a fresh run, then
a continuation that deepens the LM and is kept only if it beats its re-measured start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from photod_lab.toyworld.fixture import MANIFEST, load_vlm
from photod_lab.toyworld.naming import CODES_FILE
from photod_lab.toyworld.train import lineage, parse_args, train

TINY = [
    "--vision-width", "32", "--lm-width", "32", "--queries", "4",
    "--batch", "4", "--pool", "8", "--fresh", "2", "--dev", "4", "--eval-every", "1000",
]  # fmt: skip


@pytest.mark.parametrize("kind", ["llava", "blip2"])
def test_fresh_run_then_deepening_continuation(kind: str, tmp_path: Path) -> None:
    first = tmp_path / "first"
    # LLaVA's run also uses its own aids: the normalised probe on the projector and the
    # asked-object marks in the LM.
    aids = ["--probe-on", "projector", "--probe-norm", "--asked-weight", "1", "--vqa-share", "1"]
    probe = aids if kind == "llava" else []
    # Both families learn to name objects from appended tokens (every sample here).
    naming = ["--name-share", "1"]
    train(
        parse_args(["--model", kind, "--out", str(first), "--steps", "3", *TINY, *probe, *naming])
    )
    manifest = json.loads((first / MANIFEST).read_text())
    assert manifest["step"] == 3 and manifest["size"]["lm_layers"] == 2
    assert manifest["train_args"]["probe_norm"] is (kind == "llava")
    assert manifest["train_args"]["asked_weight"] == (1.0 if kind == "llava" else 0.0)
    assert set(manifest["dev_metrics"]) >= {"caption_exact_match", "named_caption_exact_match"}
    assert manifest["train_args"]["name_share"] == 1.0
    # BLIP-2's learnt name codes are kept for a continuation (LLaVA's are its word embeddings).
    assert (first / CODES_FILE).exists() is (kind == "blip2")

    second = tmp_path / "second"
    # A learning rate of zero cannot beat the starting point, which is re-measured on the
    # current dev set (not read from the manifest): nothing may be saved.
    result = train(
        parse_args(
            ["--model", kind, "--out", str(second), "--steps", "2", "--lr", "0", *TINY]
            + ["--init-from", str(first), "--lm-layers", "3", "--probe-warmup", "1"]
        )
    )
    assert not second.exists()
    # The history carries on from the first run's evaluation.
    assert [h["step"] for h in result["history"]] == [3, 2]


def test_lineage_is_flat_and_drops_nested_runs() -> None:
    first = {"train_args": {"seed": 1}, "step": 10, "minutes": 1.0}
    # The old layout: each earlier run's arguments carried the lineage before it.
    second_args = {"seed": 2, "previous_runs": lineage(first)}
    old = {
        "train_args": {
            "seed": 3,
            "previous_runs": [
                *lineage(first),
                {"train_args": second_args, "step": 20, "minutes": 2.0},
            ],
        },
        "step": 30,
        "minutes": 3.0,
    }
    runs = lineage(old)
    assert [r["train_args"]["seed"] for r in runs] == [1, 2, 3]
    assert [r["step"] for r in runs] == [10, 20, 30]
    assert all("previous_runs" not in r["train_args"] for r in runs)


def test_asked_object_aid_is_for_llava_only(tmp_path: Path) -> None:
    args = ["--model", "blip2", "--out", str(tmp_path / "b"), "--steps", "1", *TINY]
    with pytest.raises(SystemExit, match="needs --model llava"):
        train(parse_args([*args, "--asked-weight", "1"]))


def test_fresh_name_codes_settle_before_the_model_trains(tmp_path: Path, monkeypatch) -> None:
    first = tmp_path / "first"
    naming = ["--name-share", "1"]
    train(parse_args(["--model", "blip2", "--out", str(first), "--steps", "1", *TINY, *naming]))
    (first / CODES_FILE).unlink()  # a model whose codes were not kept: they start afresh
    # Every checkpoint counts as the best so far, so each one is written and can be read.
    scores = iter(range(100))
    monkeypatch.setattr("photod_lab.toyworld.train.dev_score", lambda metrics: next(scores))
    second = tmp_path / "second"
    args = ["--model", "blip2", "--out", str(second), "--init-from", str(first), *TINY, *naming]
    # A learning rate that would wreck the model if it applied during the warm-up.
    warm = ["--lr", "1", "--codes-warmup", "2", "--codes-lr", "0.1", "--eval-every", "1"]
    train(parse_args([*args, "--steps", "2", *warm]))
    before, after = load_vlm(first)[0].state_dict(), load_vlm(second)[0].state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the model stayed frozen
    assert (second / CODES_FILE).exists()  # the codes it learnt meanwhile are kept
    # After the warm-up the model trains as before.
    third = tmp_path / "third"
    train(parse_args([*args[:3], str(third), *args[4:], "--steps", "3", *warm]))
    after = load_vlm(third)[0].state_dict()
    assert not all(torch.equal(before[k], after[k]) for k in before)


def test_codes_warmup_needs_learnt_codes(tmp_path: Path) -> None:
    args = ["--model", "llava", "--out", str(tmp_path / "l"), "--steps", "1", *TINY]
    with pytest.raises(SystemExit, match="needs --model blip2"):
        train(parse_args([*args, "--name-share", "1", "--codes-warmup", "1"]))
