"""Shipped toy-model directories: save with a manifest, load like any local model.

Each VLM fixture carries ``photod.yaml`` beside its weights: the ``vlm.models[]`` entry photod
runs it with (prompts, concept training), kept apart from the code as the weights are.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
import yaml
from transformers import AutoProcessor, Blip2ForConditionalGeneration, LlavaForConditionalGeneration

from photod.config import VlmModelConfig

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
#: photod's settings for a model, beside its weights (a ``vlm.models[]`` entry, no id/model).
SETTINGS = "photod.yaml"
FIXTURE_NAMES = ("toy-blip2", "toy-llava", "toy-llava-ground", "toy-clip")


def fixtures_root() -> Path:
    """Directory holding the shipped fixtures (inside the package)."""
    return Path(__file__).resolve().parent / "fixtures"


def fixture_dir(name: str) -> Path:
    """Local model directory of a shipped fixture, e.g. ``fixture_dir("toy-llava")``."""
    return fixtures_root() / name


def read_manifest(path: Path) -> dict:
    """The manifest of a model directory (empty dict if there is none)."""
    f = Path(path) / MANIFEST
    return json.loads(f.read_text()) if f.exists() else {}


def model_config(path: str | Path, model_id: str | None = None) -> VlmModelConfig:
    """The ``vlm.models[]`` entry of a model folder: its ``photod.yaml`` (none: photod's
    defaults), validated by photod's config model, with ``id`` (default: the folder's name)
    and ``model`` filled in."""
    path = Path(path).resolve()
    f = path / SETTINGS
    entry = (yaml.safe_load(f.read_text()) or {}) if f.exists() else {}
    return VlmModelConfig.model_validate(
        {**entry, "id": model_id or path.name, "model": f"local-dir:{path}"}
    )


def save_fixture(model, processor, out: Path, manifest: dict) -> None:
    """``save_pretrained`` model and processor into ``out`` and write ``manifest.json``."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    # New weights invalidate earlier measurements: photod_lab.toyworld.measure writes them anew.
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    log.info("saved %s", out)


def load_vlm(path: str | Path):
    """Load a toy (or any local) BLIP-2 / LLaVA directory with plain ``from_pretrained``.

    Returns ``(model, processor)``; the model is in eval mode, fp32, eager attention.
    """
    path = Path(path)
    config = json.loads((path / "config.json").read_text())
    cls = (
        Blip2ForConditionalGeneration
        if config["model_type"] == "blip-2"
        else LlavaForConditionalGeneration
    )
    model = cls.from_pretrained(path, dtype=torch.float32, attn_implementation="eager")
    processor = AutoProcessor.from_pretrained(path)
    model.eval()
    return model, processor
