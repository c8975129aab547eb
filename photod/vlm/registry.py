"""Registering the built-in backends and loading a model reference into a session.

Built-in backends register through the same ``photod_vlm_backends`` hook as a plugin's
(entry point ``builtin_vlm_backends = "photod.vlm.registry"``). A hook returns :class:`VlmSession`
subclasses; the one whose ``model_types`` holds the checkpoint's ``model_type`` (or whose
``family`` the config names) serves it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from photod.errors import ConfigError, ModelLoadError
from photod.models.hub import hf_cached, prepare_hub
from photod.plugins import hookimpl

if TYPE_CHECKING:  # torch is imported when a model loads, never at start-up
    from photod.vlm.base import SessionSettings, VlmSession

log = logging.getLogger(__name__)


@hookimpl
def photod_vlm_backends() -> list[type]:
    """The built-in backends: BLIP-2 and the LLaVA family."""
    from photod.vlm.blip2 import Blip2Session
    from photod.vlm.llava import LlavaSession

    return [Blip2Session, LlavaSession]


def resolve_reference(ref: str, cache_dir: Path | None) -> tuple[str, dict]:
    """``(name_or_path, from_pretrained kwargs)`` for a model reference."""
    if ref.startswith("hf-hub:"):
        kwargs = {"cache_dir": str(cache_dir / "hf")} if cache_dir else {}
        return ref[len("hf-hub:") :], kwargs
    path = Path(ref[len("local-dir:") :] if ref.startswith("local-dir:") else ref).expanduser()
    if not (path / "config.json").exists():
        raise ModelLoadError(
            f"VLM {ref}: {path} is not a model directory (no config.json); "
            "use 'hf-hub:org/repo' or a save_pretrained folder"
        )
    return str(path), {}


def pick_backend(backends: Sequence[type], model_type: str, wanted: str = "auto") -> type:
    """The backend class for a checkpoint."""
    for cls in backends:
        if wanted == "auto" and model_type in getattr(cls, "model_types", ()):
            return cls
        if wanted != "auto" and getattr(cls, "family", None) == wanted:
            return cls
    names = ", ".join(sorted({getattr(c, "family", c.__name__) for c in backends})) or "none"
    raise ConfigError(
        f"no VLM backend for model_type {model_type!r} (backend {wanted}); registered: {names}"
    )


def load_session(
    ref: str,
    backends: Sequence[type],
    *,
    model_id: str,
    cache_dir: Path | None = None,
    device: str = "auto",
    dtype: str = "auto",
    backend: str = "auto",
    settings: SessionSettings | None = None,
    offline: bool = False,
) -> VlmSession:
    """Load ``ref`` with ``from_pretrained`` (eager attention: the regularisers read
    attention probabilities) onto the chosen device and dtype.

    ``offline`` (``models.offline``): never contact the hub; an unreachable hub is found out
    once, and a hub model missing from the cache then fails at once.
    """
    name, kwargs = resolve_reference(ref, cache_dir)
    hub = prepare_hub(offline)
    if kwargs and not hub.online and not hf_cached(name, Path(kwargs["cache_dir"])):
        raise ModelLoadError(
            f"VLM {ref} is not in {kwargs['cache_dir']} and {hub.describe()}: run `photod models "
            f"pull {model_id}` where the hub can be reached, or point the model at a "
            "save_pretrained folder"
        )
    import transformers

    from photod.vlm.devices import choose_device, choose_dtype

    try:
        if Path(name, "config.json").exists():
            model_type = json.loads(Path(name, "config.json").read_text())["model_type"]
        else:
            model_type = transformers.AutoConfig.from_pretrained(name, **kwargs).model_type
        cls = pick_backend(backends, model_type, backend)
        dev = choose_device(device)
        dt = choose_dtype(dev, dtype)
        model = (
            cls.model_class()
            .from_pretrained(name, dtype=dt, attn_implementation="eager", **kwargs)
            .to(dev)
        )
        processor = transformers.AutoProcessor.from_pretrained(name, **kwargs)
    except (ConfigError, ModelLoadError):
        raise
    except Exception as exc:  # hub unreachable, corrupt files, unknown architecture
        raise ModelLoadError(
            f"VLM {ref}: cannot load ({type(exc).__name__}: {exc}); without "
            "network access, download it elsewhere and point 'model' at the "
            "folder"
        ) from exc
    log.info("loaded VLM %s (%s, %s, %s)", model_id, cls.family, dev, dt)
    return cls(model, processor, model_id=model_id, settings=settings)
