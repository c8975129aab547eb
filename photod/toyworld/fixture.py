"""Shipped toy-model directories: save with a manifest, load like any local model."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from transformers import AutoProcessor, Blip2ForConditionalGeneration, LlavaForConditionalGeneration

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
FIXTURE_NAMES = ("toy-blip2", "toy-llava", "toy-clip")


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


def save_fixture(model, processor, out: Path, manifest: dict) -> None:
    """``save_pretrained`` model and processor into ``out`` and write ``manifest.json``."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    # New weights invalidate earlier measurements: photod.toyworld.measure writes them anew.
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
