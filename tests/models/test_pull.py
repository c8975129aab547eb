"""Downloading into the cache and verifying it. The hub cannot be reached here, so the
download itself is replaced (``hub_fixtures.fake_hub``: the hub cache's layout)."""

from __future__ import annotations

import pytest
from hub_fixtures import FILES, fake_hub

from photod.errors import ModelLoadError
from photod.models.hub import hf_cached
from photod.models.pull import pull_repo, verify_repo


def test_pulled_files_land_in_the_cache_and_verify(tmp_path):
    where = pull_repo("org/tiny", tmp_path, fake_hub(FILES))
    assert where == tmp_path / "models--org--tiny"
    assert hf_cached("org/tiny", tmp_path)
    snapshot = next((where / "snapshots").iterdir())
    assert (snapshot / "model.safetensors").read_bytes() == FILES["model.safetensors"]
    assert verify_repo(where) == []


def test_a_corrupt_download_is_reported_and_deleted(tmp_path):
    with pytest.raises(ModelLoadError) as err:
        pull_repo("org/tiny", tmp_path, fake_hub(FILES, corrupt="model.safetensors"))
    assert "model.safetensors: corrupt" in str(err.value)
    assert "config.json" not in str(err.value)
    # The corrupt blob is gone (the next pull fetches it again), the intact one stays.
    problems = verify_repo(tmp_path / "models--org--tiny")
    assert problems == ["model.safetensors: missing (an interrupted download)"]


def test_a_failed_download_is_one_line(tmp_path):
    def unreachable(repo_id, cache_dir):
        raise OSError("Network is unreachable\n  (retried 5 times)")

    with pytest.raises(ModelLoadError, match=r"org/tiny: download failed \(OSError: Network"):
        pull_repo("org/tiny", tmp_path, unreachable)


def test_nothing_downloaded_does_not_verify(tmp_path):
    assert verify_repo(tmp_path / "models--org--none") == [
        f"no downloaded files in {tmp_path / 'models--org--none'}"
    ]
