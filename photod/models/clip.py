"""The CLIP image embedding, through open_clip.

Model references:
- ``ViT-B-32/laion2b_s34b_b79k``: an open_clip architecture and pretrained tag (downloaded
  into ``<cache_dir>/models/open_clip`` the first time, if the hub can be reached);
- ``hf-hub:org/repo``: an open_clip model on the Hugging Face hub (same cache);
- ``local-dir:/path`` or a plain existing directory: ``open_clip_config.json`` plus weights;
- ``ViT-B-32/random``: the architecture with random weights (benchmarks and tests only).
Preprocessing comes with the weights (open_clip's config), never hard-coded here.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from photod.errors import ModelLoadError
from photod.models.hub import any_cached, hf_cached, prepare_hub
from photod.models.session import HubFiles, ModelFiles, ModelSession, parameter_bytes

log = logging.getLogger(__name__)


def parse_reference(reference: str) -> tuple[str, str | None]:
    """``reference`` -> (open_clip model name, pretrained tag or None)."""
    if reference.startswith(("hf-hub:", "local-dir:")):
        return reference, None
    if Path(reference).expanduser().is_dir():
        return "local-dir:" + str(Path(reference).expanduser()), None
    arch, _, tag = reference.partition("/")
    return arch, tag or None


def clip_cached(reference: str, cache_dir: Path) -> bool:
    """Whether ``reference`` can load without the hub (a folder, random weights or the cache).

    An ``arch/pretrained`` tag names its hub repository only inside open_clip (slow to import),
    so any cached snapshot counts: the load itself then tells the right model from a wrong one.
    """
    name, tag = parse_reference(reference)
    if name.startswith("local-dir:"):
        return Path(name[len("local-dir:") :]).expanduser().is_dir()
    if name.startswith("hf-hub:"):
        return hf_cached(name[len("hf-hub:") :], cache_dir)
    return tag == "random" or any_cached(cache_dir)


def _not_open_clip(record: logging.LogRecord) -> bool:
    return "open_clip" not in record.pathname


@contextlib.contextmanager
def _quiet_open_clip() -> Iterator[None]:
    # open_clip logs its download failure on the root logger, then raises; the raised error
    # becomes photod's one message, so the root logger's copy is dropped while it loads.
    root = logging.getLogger()
    root.addFilter(_not_open_clip)
    try:
        yield
    finally:
        root.removeFilter(_not_open_clip)


class ClipEmbedder(ModelSession[tuple]):
    """L2-normalised CLIP image embeddings; the model loads on first use, batched inference."""

    def __init__(
        self,
        reference: str,
        cache_dir: Path,
        *,
        device: str = "auto",
        batch_size: int = 16,
        idle_unload_seconds: float = 0,
        files: ModelFiles | None = None,
        offline: bool = False,
    ) -> None:
        super().__init__(f"clip {reference}", idle_unload_seconds=idle_unload_seconds, files=files)
        self.reference = reference
        self.model_id = reference  # stored with every embedding and every object head
        self._cache_dir = cache_dir / "models" / "open_clip"
        self._device = device
        self._batch_size = batch_size
        self._offline = offline
        # One batch at a time: open_clip models are not re-entrant across threads.
        self._infer = threading.Lock()
        self._tokenizer = None  # the text side's, loaded on the first encode_text

    def model_files(self) -> ModelFiles | None:
        """The hub copy photod downloaded (never a ``local-dir`` the user points at)."""
        if self._files is not None:
            return self._files
        name, tag = parse_reference(self.reference)
        if name.startswith("hf-hub:"):
            return HubFiles(name[len("hf-hub:") :], self._cache_dir)
        if name.startswith("local-dir:") or tag in (None, "random"):
            return None
        import open_clip

        hub = (open_clip.get_pretrained_cfg(name, tag) or {}).get("hf_hub")
        return HubFiles(hub, self._cache_dir) if hub else None

    def _resolve_device(self, torch) -> str:
        if self._device != "auto":
            return self._device
        return "cuda" if torch.cuda.is_available() else "cpu"

    def _check_available(self) -> None:
        if self._files is not None:  # a mirror photod copies from: fetched before loading
            return
        hub = prepare_hub(self._offline)
        if not hub.online and not clip_cached(self.reference, self._cache_dir):
            # Checked before open_clip is imported (6-8 s): a missing model costs nothing.
            raise ModelLoadError(
                f"CLIP model {self.reference!r} is not in {self._cache_dir} and "
                f"{hub.describe()}: run `photod models pull clip` where the hub can be reached, "
                "set clip.model to a model folder ('local-dir:/path'), or set clip.enabled: false"
            )

    def _load(self) -> tuple:
        import open_clip
        import torch

        name, tag = parse_reference(self.reference)
        device = self._resolve_device(torch)
        random_weights = tag == "random"
        try:
            with _quiet_open_clip():
                model, _, preprocess = open_clip.create_model_and_transforms(
                    name,
                    pretrained=None if random_weights else tag,
                    device=device,
                    cache_dir=str(self._cache_dir),
                )
        except Exception as exc:
            why = " ".join(str(exc).split())  # one line in the log, whatever open_clip said
            raise ModelLoadError(
                f"CLIP model {self.reference!r} could not be loaded ({why}). Use an open_clip "
                "'arch/pretrained' tag or 'hf-hub:org/repo' with network access once (cached in "
                f"{self._cache_dir}), or copy a model folder (open_clip_config.json + "
                "open_clip_model.safetensors) and set clip.model to 'local-dir:/that/folder'."
            ) from exc
        if random_weights:
            log.warning("CLIP %s has RANDOM weights: only for benchmarks and tests", name)
        model.eval()
        log.info("CLIP model %s loaded on %s", self.reference, device)
        return (torch, model, preprocess, device)

    def memory_bytes(self) -> int | None:
        """Bytes of the loaded model's parameters."""
        loaded = self._model
        return None if loaded is None else parameter_bytes(loaded[1])

    @property
    def dim(self) -> int:
        """Embedding dimension (loads the model)."""
        with self.use() as (_, model, _, _):
            return int(model.visual.output_dim)

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """``[len(images), dim]`` float32, L2-normalised."""
        with self.use() as (torch, model, preprocess, device), self._infer:
            chunks = []
            for i in range(0, len(images), self._batch_size):
                batch = torch.stack(
                    [preprocess(im.convert("RGB")) for im in images[i : i + self._batch_size]]
                )
                with torch.inference_mode():
                    feats = model.encode_image(batch.to(device)).float()
                feats = torch.nn.functional.normalize(feats, dim=-1)
                chunks.append(feats.cpu().numpy())
            return np.concatenate(chunks).astype(np.float32)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """``[len(texts), dim]`` float32, L2-normalised: the text tower, in the image
        embeddings' space (semantic search, zero-shot tags). Loads like :meth:`embed`."""
        with self.use() as (torch, model, _, device), self._infer:
            if self._tokenizer is None:
                import open_clip

                # The tokenizer comes with the model reference (a local-dir's own files).
                name, _ = parse_reference(self.reference)
                with _quiet_open_clip():
                    self._tokenizer = open_clip.get_tokenizer(name, cache_dir=str(self._cache_dir))
            chunks = []
            for i in range(0, len(texts), self._batch_size):
                tokens = self._tokenizer(list(texts[i : i + self._batch_size]))
                with torch.inference_mode():
                    feats = model.encode_text(tokens.to(device)).float()
                chunks.append(torch.nn.functional.normalize(feats, dim=-1).cpu().numpy())
            if not chunks:
                return np.zeros((0, int(model.visual.output_dim)), np.float32)
            return np.concatenate(chunks).astype(np.float32)
