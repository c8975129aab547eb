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

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from photod.errors import ModelLoadError
from photod.models.session import HubFiles, ModelFiles, ModelSession

log = logging.getLogger(__name__)


def parse_reference(reference: str) -> tuple[str, str | None]:
    """``reference`` -> (open_clip model name, pretrained tag or None)."""
    if reference.startswith(("hf-hub:", "local-dir:")):
        return reference, None
    if Path(reference).expanduser().is_dir():
        return "local-dir:" + str(Path(reference).expanduser()), None
    arch, _, tag = reference.partition("/")
    return arch, tag or None


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
    ) -> None:
        super().__init__(f"clip {reference}", idle_unload_seconds=idle_unload_seconds, files=files)
        self.reference = reference
        self.model_id = reference  # stored with every embedding and every object head
        self._cache_dir = cache_dir / "models" / "open_clip"
        self._device = device
        self._batch_size = batch_size
        # One batch at a time: open_clip models are not re-entrant across threads.
        self._infer = threading.Lock()

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

    def _load(self) -> tuple:
        import open_clip
        import torch

        name, tag = parse_reference(self.reference)
        device = self._resolve_device(torch)
        random_weights = tag == "random"
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                name,
                pretrained=None if random_weights else tag,
                device=device,
                cache_dir=str(self._cache_dir),
            )
        except Exception as exc:
            raise ModelLoadError(
                f"CLIP model {self.reference!r} could not be loaded ({exc}). Use an open_clip "
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
        if loaded is None:
            return None
        return sum(p.numel() * p.element_size() for p in loaded[1].parameters())

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
