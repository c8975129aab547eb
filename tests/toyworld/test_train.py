"""The toy trainer end to end on a model small enough to run in seconds: a fresh run, then
a continuation that deepens the LM and is kept only if it beats its re-measured start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from photod.toyworld.fixture import MANIFEST
from photod.toyworld.naming import CODES_FILE
from photod.toyworld.train import lineage, parse_args, train

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
