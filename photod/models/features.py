"""Patch features for instance heads: a DINOv2 model through ``transformers``.

Model references:
- ``facebook/dinov2-small`` (any hub id): downloaded into ``<cache_dir>/hf`` the first
  time, if the hub can be reached (``photod models pull features``);
- ``local-dir:/path`` or a plain existing directory: ``config.json``, weights and
  ``preprocessor_config.json`` (the toy world's ``toy-features`` fixture has this layout).

A photo is resized to the processor's square input size (no centre crop, so every patch maps
to a known region of the whole photo) and normalised with the processor's mean and std. Its
patch tokens are average-pooled down to at most ``max_grid`` x ``max_grid`` (a real DINOv2 at
224 px has a 16 x 16 grid; 8 x 8 keeps the stored features at 64 tokens per photo) and
L2-normalised.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from photod.errors import ModelLoadError
from photod.models.hub import hf_cached, prepare_hub
from photod.models.session import HubFiles, ModelFiles, ModelSession, parameter_bytes

log = logging.getLogger(__name__)


def local_dir(reference: str) -> Path | None:
    """The folder a ``local-dir:`` reference or a plain directory names (None: a hub id)."""
    if reference.startswith("local-dir:"):
        return Path(reference[len("local-dir:") :]).expanduser()
    path = Path(reference).expanduser()
    return path if path.is_dir() else None


def input_size(processor) -> int:
    """The processor's square input side: its crop when it crops, else its resize."""
    size = processor.crop_size if getattr(processor, "do_center_crop", False) else processor.size
    return int(size.get("height") or size.get("shortest_edge"))


class PatchEmbedder(ModelSession[tuple]):
    """L2-normalised patch tokens ``[photos, grid*grid, dim]``; loads on first use."""

    def __init__(
        self,
        reference: str,
        cache_dir: Path,
        *,
        device: str = "cpu",
        batch_size: int = 16,
        max_grid: int = 8,
        idle_unload_seconds: float = 0,
        files: ModelFiles | None = None,
        offline: bool = False,
    ) -> None:
        super().__init__(
            f"features {reference}", idle_unload_seconds=idle_unload_seconds, files=files
        )
        self.reference = reference
        self.model_id = f"patches:{reference}"  # stored with every feature and every head
        self._cache_dir = Path(cache_dir) / "hf"  # where `photod models pull` puts hub models
        self._device = device
        self._batch_size = batch_size
        self._max_grid = max_grid
        self._offline = offline
        self._infer = threading.Lock()  # one batch at a time

    def model_files(self) -> ModelFiles | None:
        """The hub copy photod downloaded (never a folder the user points at)."""
        if self._files is not None or local_dir(self.reference) is not None:
            return self._files
        return HubFiles(self.reference, self._cache_dir)

    def _check_available(self) -> None:
        if self._files is not None:
            return
        path = local_dir(self.reference)
        if path is not None:
            if not path.is_dir():
                raise ModelLoadError(f"feature model folder {path} does not exist")
            return
        hub = prepare_hub(self._offline)
        if not hub.online and not hf_cached(self.reference, self._cache_dir):
            raise ModelLoadError(
                f"feature model {self.reference!r} is not in {self._cache_dir} and "
                f"{hub.describe()}: run `photod models pull features` where the hub can be "
                "reached, or set heads.object.feature_model to a model folder"
            )

    def _load(self) -> tuple:
        import torch
        from transformers import AutoImageProcessor, Dinov2Model

        path = local_dir(self.reference)
        source = str(path) if path is not None else self.reference
        kwargs = {} if path is not None else {"cache_dir": str(self._cache_dir)}
        try:
            processor = AutoImageProcessor.from_pretrained(source, **kwargs)
            model = Dinov2Model.from_pretrained(source, **kwargs).to(self._device).eval()
        except Exception as exc:
            raise ModelLoadError(
                f"feature model {self.reference!r} could not be loaded: {exc}"
            ) from exc
        side = input_size(processor)
        grid = side // int(model.config.patch_size)
        log.info("feature model %s loaded (%d px, %d x %d patches)", source, side, grid, grid)
        return (torch, model, processor, side, grid)

    def memory_bytes(self) -> int | None:
        """Bytes of the loaded model's parameters."""
        loaded = self._model
        return None if loaded is None else parameter_bytes(loaded[1])

    @property
    def dim(self) -> int:
        """Token dimension (loads the model)."""
        with self.use() as (_, model, _, _, _):
            return int(model.config.hidden_size)

    @property
    def grid(self) -> int:
        """Side of the stored patch grid (loads the model)."""
        with self.use() as (_, _, _, _, grid):
            return min(grid, self._max_grid)

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """``[len(images), grid*grid, dim]`` float32, each token L2-normalised."""
        with self.use() as (torch, model, processor, side, grid), self._infer:
            mean = torch.tensor(processor.image_mean).view(1, 3, 1, 1)
            std = torch.tensor(processor.image_std).view(1, 3, 1, 1)
            out = []
            for i in range(0, len(images), self._batch_size):
                arr = np.stack(
                    [
                        np.asarray(
                            im.convert("RGB").resize((side, side), Image.Resampling.BICUBIC),
                            np.float32,
                        )
                        for im in images[i : i + self._batch_size]
                    ]
                )
                px = (torch.from_numpy(arr / 255).permute(0, 3, 1, 2) - mean) / std
                with torch.inference_mode():
                    tok = model(pixel_values=px.float().to(self._device)).last_hidden_state
                tok = tok[:, 1:].float()
                if grid > self._max_grid:
                    # Pooled on the grid: a token still stands for one region of the photo.
                    maps = tok.transpose(1, 2).reshape(len(tok), -1, grid, grid)
                    maps = torch.nn.functional.adaptive_avg_pool2d(maps, self._max_grid)
                    tok = maps.flatten(2).transpose(1, 2)
                tok = torch.nn.functional.normalize(tok, dim=-1)
                out.append(tok.cpu().numpy())
            return np.concatenate(out).astype(np.float32)
