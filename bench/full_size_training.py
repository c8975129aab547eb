"""Concept-embedding training memory and time on full-size BLIP-2 / LLaVA-7B architectures.

The issue asks for these where a GPU is lent. Nothing is downloaded: the stock
``transformers`` classes are built from the published models' dimensions with random
weights (memory and time do not depend on the weights' values), the word-level toy
tokenizer stands in for the real one (the embedding tables keep the real vocabulary size),
and photod's own backend sessions train one embedding exactly as ``photod concept train``
does (frozen features cached, then the steps). Reported per architecture: parameters,
build, feature-caching and per-step seconds, and the peak memory (CUDA: the allocator's
peak; CPU: the process's peak RSS).

Usage (one GPU; about 50 GB for LLaVA-7B in bf16)::

    python bench/full_size_training.py --device cuda --dtype bf16 --json out.json
    python bench/full_size_training.py --scale tiny --device cpu      # a quick check here
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from dataclasses import replace

import numpy as np
import torch
from PIL import Image

from photod.config import VlmTrainingConfig
from photod.vlm.blip2 import Blip2Session
from photod.vlm.llava import LlavaSession
from photod.vlm.training import TrainExample, train_embedding
from photod_lab.toyworld.models import TinySize, build_blip2, build_llava, count_parameters

#: The published architectures' dimensions (config.json of Salesforce/blip2-opt-2.7b and
#: llava-hf/llava-1.5-7b-hf), applied over the toy builders' configs.
FULL = {
    "blip2-opt-2.7b": {
        "image_size": 224,
        "patch_size": 14,
        "vision_config": dict(
            hidden_size=1408, intermediate_size=6144, num_hidden_layers=39, num_attention_heads=16
        ),
        "qformer_config": dict(
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            encoder_hidden_size=1408,
            cross_attention_frequency=2,
        ),
        "text_config": dict(
            hidden_size=2560,
            word_embed_proj_dim=2560,
            ffn_dim=10240,
            num_hidden_layers=32,
            num_attention_heads=32,
            vocab_size=50272,
            max_position_embeddings=2048,
        ),
    },
    "llava-1.5-7b": {
        "image_size": 336,
        "patch_size": 14,
        "vision_config": dict(
            hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16
        ),
        "text_config": dict(
            hidden_size=4096,
            intermediate_size=11008,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=32,
            head_dim=128,  # the toy config stores its own
            vocab_size=32064,
            max_position_embeddings=4096,
        ),
    },
}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
TARGETS = [(None, "rex left of a red circle"), ("where is rex ?", "left")]


def build_session(arch: str, scale: str, device: str, dtype: torch.dtype):
    """A photod session over ``arch`` at full size (or the toy size, ``scale='tiny'``)."""
    dims = FULL[arch]
    size = TinySize(image_size=dims["image_size"], patch_size=dims["patch_size"])
    if scale == "tiny":
        size = replace(size, image_size=64, patch_size=8)
    blip2 = arch.startswith("blip2")
    toy, processor = (build_blip2 if blip2 else build_llava)(size)
    config = toy.config
    if scale == "full":
        for part in ("vision_config", "qformer_config", "text_config"):
            for key, value in dims.get(part, {}).items():
                setattr(getattr(config, part), key, value)
        config.vision_config.image_size = size.image_size
        config.vision_config.patch_size = size.patch_size
        if not blip2:
            config.image_seq_length = (size.image_size // size.patch_size) ** 2
    with torch.device(device):
        model = type(toy)(config).to(dtype)
    session_cls = Blip2Session if blip2 else LlavaSession
    return session_cls(model, processor, model_id=f"{arch}-{scale}")


def _peak_bytes(device: str) -> int:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def measure(arch: str, scale: str, device: str, dtype: str, steps: int, images: int) -> dict:
    """Build ``arch``, train one embedding for ``steps`` steps; the figures as a dict."""
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    session = build_session(arch, scale, device, DTYPES[dtype])
    built = time.perf_counter() - start
    rng = np.random.default_rng(0)  # photos of any size: the processor resizes them
    examples = [
        TrainExample(Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)), TARGETS)
        for _ in range(images)
    ]
    # The reference schedule's per-step work: batch = the examples, one view each.
    settings = VlmTrainingConfig(steps=steps, views=2, checkpoint_every=0)
    trained = train_embedding(session, examples, "rex", settings, progress=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    train_s = trained.meta["seconds"] - trained.meta["cache_seconds"]
    return {
        "arch": arch,
        "scale": scale,
        "device": device,
        "dtype": dtype,
        "parameters": count_parameters(session.model),
        "examples": images,
        "steps": steps,
        "build_seconds": round(built, 2),
        "cache_seconds": trained.meta["cache_seconds"],
        "seconds_per_step": round(train_s / steps, 4),
        "peak_memory_gib": round(_peak_bytes(device) / 2**30, 2),
        "final_loss": trained.meta["final_loss"],
    }


def main() -> None:
    """Measure each requested architecture and print one JSON line per architecture."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", action="append", choices=sorted(FULL), default=None)
    ap.add_argument("--scale", choices=("full", "tiny"), default="full")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    rows = []
    for arch in a.arch or sorted(FULL):
        rows.append(measure(arch, a.scale, a.device, a.dtype, a.steps, a.images))
        print(json.dumps(rows[-1]), flush=True)
        if a.device.startswith("cuda"):
            torch.cuda.empty_cache()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
