"""Shared fixtures: isolated configuration, real photo files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# No test may touch the network: model hubs are unreachable anyway, fail fast instead of waiting.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from photod.config import Config, load_config  # noqa: E402


@pytest.fixture
def photo_root(tmp_path: Path) -> Path:
    """An empty photo folder."""
    root = tmp_path / "photos"
    root.mkdir()
    return root


@pytest.fixture
def config(tmp_path: Path, photo_root: Path) -> Config:
    """A configuration whose every path lies under ``tmp_path``."""
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(config_yaml(tmp_path, photo_root))
    return load_config(cfg_file, environ={})


def config_yaml(tmp_path: Path, photo_root: Path, extra: str = "") -> str:
    """YAML text for an isolated configuration (used by subprocess tests too)."""
    return (
        f"paths:\n  data_dir: {tmp_path / 'data'}\n  cache_dir: {tmp_path / 'cache'}\n"
        f"  state_dir: {tmp_path / 'state'}\n"
        f"library:\n  roots: [{photo_root}]\n  debounce_seconds: 0.1\n  settle_seconds: 0.2\n"
        + extra
    )


def write_photo(path: Path, size: tuple[int, int] = (320, 240), seed: int = 0, **save_kw) -> Path:
    """Write a real image file (format from the suffix) with random, seed-determined pixels."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **save_kw)
    return path


def pytest_collection_modifyitems(config, items):
    """``gpu`` tests are skipped on a machine without a CUDA device (torch is only imported
    when such a test was collected)."""
    gpu = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in gpu:
        item.add_marker(skip)
