"""Whether the model hub can be reached, found out once per process, quickly.

huggingface_hub retries an unreachable hub for about 47 s per file (five retries with backoff)
before open_clip or transformers give up. Before a model loads, :func:`prepare_hub` decides
once: the ``models.offline`` setting or ``HF_HUB_OFFLINE`` says so, or a TCP connection to the
hub (a short timeout) fails. Offline, huggingface_hub is switched to its offline mode, so a
missing model fails at once and a cached one loads from the cache without a request.

The answer is cached for the process: huggingface_hub's offline mode is process-wide too.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
PROBE_TIMEOUT_S = 2.0
_TRUE = {"1", "on", "yes", "true"}


@dataclass(frozen=True)
class HubState:
    """What :func:`prepare_hub` found: ``online``, and why not (``reason``) when offline."""

    online: bool
    endpoint: str
    reason: str = ""

    def describe(self) -> str:
        """``"the model hub https://huggingface.co cannot be reached (...)"``, for messages."""
        if self.online:
            return f"the model hub {self.endpoint} can be reached"
        return f"the model hub {self.endpoint} {self.reason}"


def hub_endpoint(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """The hub's base URL (``HF_ENDPOINT`` or huggingface.co)."""
    return (environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _proxy_for(url: str, environ) -> str | None:
    scheme = urlsplit(url).scheme
    for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY", "all_proxy", "ALL_PROXY"):
        if environ.get(name):
            return environ[name]
    return None


@functools.cache
def probe(url: str, timeout: float = PROBE_TIMEOUT_S) -> str:
    """``""`` when a TCP connection to ``url``'s host opens within ``timeout``, else why not.

    Name resolution has no timeout of its own, so the probe runs in a daemon thread that is
    abandoned after ``timeout``. Cached per URL for the process.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    result: list[str] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append("")
        except OSError as exc:
            result.append(exc.strerror or type(exc).__name__)

    thread = threading.Thread(target=connect, name="photod-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return result[0] if result else f"no answer within {timeout:g} s"


def _set_offline_mode() -> None:
    # The environment variable reaches huggingface_hub (and transformers) if they are imported
    # later; the constant is what an already imported huggingface_hub reads at each request.
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True


def hub_state(
    offline: bool = False, environ: dict[str, str] | os._Environ[str] = os.environ
) -> HubState:
    """Whether models can be downloaded, without changing anything (``photod doctor``)."""
    endpoint = hub_endpoint(environ)
    if offline:
        return HubState(False, endpoint, "is off (models.offline is set)")
    if environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return HubState(False, endpoint, "is off (HF_HUB_OFFLINE is set)")
    target = _proxy_for(endpoint, environ) or endpoint
    why = probe(target)
    if why:
        return HubState(False, endpoint, f"cannot be reached ({why})")
    return HubState(True, endpoint)


def prepare_hub(offline: bool = False) -> HubState:
    """Decide once whether the hub is usable; when it is not, put huggingface_hub offline.

    Call it before a model that may come from the hub loads (CLIP, a VLM).
    """
    state = hub_state(offline)
    if not state.online:
        _set_offline_mode()
        log.debug("%s: models load from the cache only", state.describe())
    return state


def _has_snapshot(repo_dir: Path) -> bool:
    snapshots = repo_dir / "snapshots"
    return snapshots.is_dir() and any(p.is_dir() and any(p.iterdir()) for p in snapshots.iterdir())


def hf_cached(repo_id: str, cache_dir: Path) -> bool:
    """Whether a snapshot of hub repository ``repo_id`` is in the cache folder ``cache_dir``."""
    return _has_snapshot(Path(cache_dir) / ("models--" + repo_id.replace("/", "--")))


def any_cached(cache_dir: Path) -> bool:
    """Whether the cache folder holds any hub snapshot at all."""
    return any(_has_snapshot(p) for p in Path(cache_dir).glob("models--*"))
