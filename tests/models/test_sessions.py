"""The model-session layer with a real (tiny, random-weight) open_clip model on disk.

No clock is patched: the idle time-to-live is driven by ``tick(now)`` with chosen times.
The hub is unreachable here, so the "fetch" of a corrupt cached model is a copy from a local
mirror folder (:class:`CopiedFiles`); the delete-and-fetch-once logic is the same one a hub
download goes through.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import numpy as np
import pytest
from concept_fixtures import tiny_clip_dir
from PIL import Image

from photod.errors import ModelLoadError
from photod.models.cache import ModelSessions
from photod.models.clip import ClipEmbedder
from photod.models.session import CopiedFiles, HubFiles

WEIGHTS = "open_clip_model.safetensors"


def _image(seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))


def _clip(folder: Path, tmp_path: Path, **kw) -> ClipEmbedder:
    return ClipEmbedder(f"local-dir:{folder}", tmp_path / "cache", device="cpu", **kw)


def test_idle_model_is_unloaded_by_tick_and_freed(tmp_path: Path):
    released = []
    sessions = ModelSessions(release=lambda: released.append(True))
    clip = sessions.add(_clip(tiny_clip_dir(tmp_path / "clip"), tmp_path, idle_unload_seconds=60))
    assert not clip.loaded and sessions.tick(1e12) == []  # nothing loaded: nothing to do

    first = clip.embed([_image()])
    assert clip.loaded and sessions.loaded() == [clip.name]
    model = weakref.ref(clip._model[1])
    assert sessions.tick(clip.last_used + 59) == []  # not idle long enough
    assert clip.loaded

    assert sessions.tick(clip.last_used + 61) == [clip.name]
    gc.collect()
    assert not clip.loaded and released == [True]
    assert model() is None  # nothing else kept the model alive

    # Used again: loaded again, same weights, same embedding.
    np.testing.assert_allclose(clip.embed([_image()]), first, rtol=1e-5)


def test_model_in_use_is_never_unloaded(tmp_path: Path):
    sessions = ModelSessions(release=lambda: None)
    clip = sessions.add(_clip(tiny_clip_dir(tmp_path / "clip"), tmp_path, idle_unload_seconds=1))
    with clip.use():
        assert sessions.tick(clip.last_used + 3600) == []
        assert clip.loaded
    assert sessions.tick(clip.last_used + 2) == [clip.name]


def test_zero_ttl_keeps_the_model_and_close_frees_it(tmp_path: Path):
    released = []
    sessions = ModelSessions(release=lambda: released.append(True))
    clip = sessions.add(_clip(tiny_clip_dir(tmp_path / "clip"), tmp_path))
    clip.embed([_image()])
    assert sessions.tick(clip.last_used + 1e9) == [] and clip.loaded
    sessions.close()
    assert not clip.loaded and released == [True]


def test_corrupt_cached_model_is_deleted_and_fetched_once_more(tmp_path: Path):
    mirror = tiny_clip_dir(tmp_path / "mirror")
    cached = tmp_path / "cache" / "models" / "open_clip" / "tiny"
    files = CopiedFiles(mirror, cached)
    files.fetch()
    weights = cached / WEIGHTS
    good = weights.read_bytes()
    weights.write_bytes(good[: len(good) // 3])  # a download cut short
    (cached / "stale.tmp").write_text("left over")

    clip = _clip(cached, tmp_path, files=files)
    assert clip.embed([_image()]).shape == (1, 32)
    assert weights.read_bytes() == good  # fetched again
    assert not (cached / "stale.tmp").exists()  # the whole corrupt copy was deleted


def test_missing_cached_model_is_fetched_before_the_first_load(tmp_path: Path):
    mirror = tiny_clip_dir(tmp_path / "mirror")
    cached = tmp_path / "cache" / "tiny"
    clip = _clip(cached, tmp_path, files=CopiedFiles(mirror, cached))
    assert clip.embed([_image()]).shape == (1, 32)
    assert (cached / WEIGHTS).exists()


def test_a_second_failure_is_a_model_load_error(tmp_path: Path):
    mirror = tiny_clip_dir(tmp_path / "mirror")
    (mirror / WEIGHTS).write_bytes(b"not a safetensors file")  # the source is broken too
    cached = tmp_path / "cache" / "tiny"
    clip = _clip(cached, tmp_path, files=CopiedFiles(mirror, cached))
    with pytest.raises(ModelLoadError, match="again after a fresh fetch"):
        clip.embed([_image()])


def test_a_users_model_folder_is_never_deleted(tmp_path: Path):
    folder = tiny_clip_dir(tmp_path / "mine")
    (folder / WEIGHTS).write_bytes(b"broken")
    clip = _clip(folder, tmp_path)
    assert clip.model_files() is None
    with pytest.raises(ModelLoadError):
        clip.embed([_image()])
    assert (folder / WEIGHTS).read_bytes() == b"broken"


def test_hub_references_name_their_cached_download(tmp_path: Path):
    clip = ClipEmbedder("hf-hub:org/some-clip", tmp_path)
    files = clip.model_files()
    assert isinstance(files, HubFiles)
    assert files.path == tmp_path / "models" / "open_clip" / "models--org--some-clip"
    assert ClipEmbedder("ViT-B-32/random", tmp_path).model_files() is None


@pytest.mark.gpu
def test_unloading_a_cuda_model_gives_the_gpu_memory_back(tmp_path: Path):
    """The real release (``torch.cuda.empty_cache`` after the drop), on a CUDA device."""
    import torch

    sessions = ModelSessions()
    clip = sessions.add(
        ClipEmbedder(
            f"local-dir:{tiny_clip_dir(tmp_path / 'clip')}",
            tmp_path / "cache",
            device="cuda",
            idle_unload_seconds=1,
        )
    )
    allocated, reserved = torch.cuda.memory_allocated(), torch.cuda.memory_reserved()
    clip.embed([_image()])
    assert torch.cuda.memory_allocated() > allocated
    assert sessions.tick(clip.last_used + 2) == [clip.name]
    assert torch.cuda.memory_allocated() == allocated
    assert torch.cuda.memory_reserved() <= reserved
