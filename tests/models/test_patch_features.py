"""The instance heads' feature backbone: a real ``transformers`` DINOv2 from a tiny config
(random weights, saved as a model folder like a user's copy; no download), loaded lazily
through the model-session layer and unloaded when idle."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from photod.errors import ModelLoadError
from photod.models.cache import ModelSessions
from photod.models.features import PatchEmbedder


@pytest.fixture(scope="module")
def tiny_dinov2(tmp_path_factory):
    import torch
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    folder = tmp_path_factory.mktemp("tiny-dinov2")
    torch.manual_seed(0)
    cfg = Dinov2Config(
        image_size=64, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2
    )
    Dinov2Model(cfg).save_pretrained(folder)
    BitImageProcessor(
        size={"height": 64, "width": 64},
        do_center_crop=False,
        image_mean=[0.5] * 3,
        image_std=[0.5] * 3,
    ).save_pretrained(folder)
    return folder


def _photos(n: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 255, (90, 120, 3), np.uint8)) for _ in range(n)]


def test_loads_on_first_use_and_unloads_when_idle(tiny_dinov2, tmp_path):
    emb = PatchEmbedder(f"local-dir:{tiny_dinov2}", tmp_path, idle_unload_seconds=5)
    sessions = ModelSessions()
    sessions.add(emb)
    assert not emb.loaded  # nothing loads until a photo is embedded
    grids = emb.embed(_photos(3))
    assert emb.loaded and grids.shape == (3, 64, 32)
    np.testing.assert_allclose(np.linalg.norm(grids, axis=-1), 1.0, rtol=1e-5)
    assert emb.model_id == f"patches:local-dir:{tiny_dinov2}"
    assert not emb.unload_if_idle(emb.last_used + 1)  # used a second ago
    assert emb.unload_if_idle(emb.last_used + 6) and not emb.loaded
    again = emb.embed(_photos(3))  # loads again, same weights, same features
    np.testing.assert_allclose(again, grids, atol=1e-5)


def test_a_large_grid_is_pooled_to_max_grid(tiny_dinov2, tmp_path):
    emb = PatchEmbedder(str(tiny_dinov2), tmp_path, max_grid=4)
    assert emb.embed(_photos(2)).shape == (2, 16, 32) and emb.grid == 4


def test_a_missing_hub_model_fails_before_loading(tmp_path):
    emb = PatchEmbedder("facebook/dinov2-small", tmp_path, offline=True)
    with pytest.raises(ModelLoadError, match="photod models pull features"):
        emb.embed(_photos(1))
