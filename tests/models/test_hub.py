"""The model-hub probe: decided once, quickly, and huggingface_hub follows it."""

from __future__ import annotations

import socket
import time

import pytest

from photod.errors import ModelLoadError
from photod.models import hub
from photod.models.clip import ClipEmbedder, clip_cached


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unreachable(monkeypatch) -> str:
    """An endpoint that refuses connections; HF_HUB_OFFLINE unset, so the probe decides."""
    endpoint = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return endpoint


def test_unreachable_hub_is_found_out_quickly_and_puts_huggingface_hub_offline(
    unreachable, monkeypatch
):
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    start = time.monotonic()
    state = hub.prepare_hub()
    assert time.monotonic() - start < hub.PROBE_TIMEOUT_S + 0.5
    assert not state.online and "cannot be reached" in state.describe()
    assert unreachable in state.describe()
    assert constants.HF_HUB_OFFLINE is True
    assert hub.os.environ["HF_HUB_OFFLINE"] == "1"


def test_the_setting_and_the_environment_variable_skip_the_probe(unreachable, monkeypatch):
    monkeypatch.setattr(hub, "probe", lambda *a: pytest.fail("probed although told offline"))
    assert "models.offline" in hub.hub_state(offline=True).reason
    assert "HF_HUB_OFFLINE" in hub.hub_state(environ={"HF_HUB_OFFLINE": "1"}).reason


def test_a_listening_endpoint_is_online(monkeypatch):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        state = hub.hub_state(environ={"HF_ENDPOINT": url})
    assert state.online and state.endpoint == url


def test_cache_presence(tmp_path):
    assert not hub.any_cached(tmp_path) and not hub.hf_cached("org/repo", tmp_path)
    snap = tmp_path / "models--org--repo" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    assert not hub.hf_cached("org/repo", tmp_path)  # an interrupted download: nothing in it
    (snap / "config.json").write_text("{}")
    assert hub.hf_cached("org/repo", tmp_path) and hub.any_cached(tmp_path)
    assert clip_cached("hf-hub:org/repo", tmp_path)
    assert clip_cached("ViT-B-32/random", tmp_path / "empty")
    assert clip_cached(f"local-dir:{tmp_path}", tmp_path / "empty")
    assert not clip_cached("ViT-B-32/laion2b_s34b_b79k", tmp_path / "empty")


def test_missing_clip_fails_at_once_in_one_line(tmp_path, unreachable):
    clip = ClipEmbedder("ViT-B-32/laion2b_s34b_b79k", tmp_path)
    start = time.monotonic()
    with pytest.raises(ModelLoadError) as err:
        clip.embed([])
    assert time.monotonic() - start < hub.PROBE_TIMEOUT_S + 0.5
    message = str(err.value)
    assert "\n" not in message and "'ViT-B-32/laion2b_s34b_b79k'" in message
    assert "clip.enabled: false" in message
