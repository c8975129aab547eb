"""bench/full_size_training.py: its full-size architectures are the published ones (built on
the meta device: no memory, no download), and it trains on them as photod does (checked at
the toy size on the CPU; the full-size run needs a GPU)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "bench" / "full_size_training.py"
spec = importlib.util.spec_from_file_location("full_size_training", BENCH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


@pytest.mark.parametrize(("arch", "billions"), [("blip2-opt-2.7b", 3.745), ("llava-1.5-7b", 7.063)])
def test_full_size_architectures_have_the_published_parameter_counts(arch, billions):
    session = bench.build_session(arch, "full", "meta", torch.bfloat16)
    n = sum(p.numel() for p in session.model.parameters())
    assert abs(n / 1e9 - billions) < 0.01
    assert session.concept_dim == (1408 if arch.startswith("blip2") else 4096)


def test_a_tiny_run_reports_every_figure():
    row = bench.measure("llava-1.5-7b", "tiny", "cpu", "fp32", steps=2, images=2)
    assert row["steps"] == 2 and row["examples"] == 2
    assert row["seconds_per_step"] > 0 and row["peak_memory_gib"] > 0
    assert math.isfinite(row["final_loss"])
