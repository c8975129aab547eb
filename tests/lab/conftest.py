"""Lab tests (toy world, evaluation) run offline against the shipped toy fixtures."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True, scope="session")
def _two_threads() -> None:
    """The CI machines have two cores; more threads only add contention."""
    torch.set_num_threads(2)
