"""Measure shipped toy VLMs on the fixed held-out set and record it in their manifests.

Usage: ``python -m photod_lab.toyworld.measure toy-llava toy-blip2 [--n 500] [--check 48]``

``heldout_metrics`` holds the numbers on ``n`` held-out scenes; ``check_metrics`` those on the
first ``check`` of them, which the test suite recomputes to prove the fixture reproduces.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import torch

from photod_lab.toyworld.fixture import MANIFEST, fixture_dir, load_vlm, read_manifest
from photod_lab.toyworld.grounding import grounding_accuracy
from photod_lab.toyworld.metrics import (
    HELDOUT_SEED,
    accuracy_by_kind,
    caption_exact_match,
    heldout_scenes,
    model_kind,
    share_correct,
    vqa_results,
)
from photod_lab.toyworld.naming import NamingAid

log = logging.getLogger(__name__)


def measure(model, processor, n: int) -> dict[str, float]:
    """Caption exact match (and, for LLaVA, VQA accuracy, overall and per question kind, and
    captions naming objects from appended tokens; for a grounding model, "locate the X ?"
    answers) on the first ``n`` held-out scenes."""
    scenes = heldout_scenes(n)
    out = {
        "n": n,
        "seed": HELDOUT_SEED,
        "caption_exact_match": caption_exact_match(model, processor, scenes),
    }
    if model_kind(model) == "llava":
        results = vqa_results(model, processor, scenes)
        out["vqa_accuracy"] = share_correct(results)
        out["vqa_by_kind"] = accuracy_by_kind(results)
        # BLIP-2's name codes are discarded after training; LLaVA's are its word embeddings.
        size = model.config.vision_config
        aid = NamingAid(model, processor, size.image_size, size.patch_size)
        out["named_caption_exact_match"] = aid.caption_exact_match(scenes, seed=HELDOUT_SEED)
        if "locate" in processor.tokenizer.get_vocab():
            out["grounding_accuracy"] = grounding_accuracy(model, processor, scenes)
    return out


def measure_fixture(name: str, n: int, check: int) -> dict:
    """Measure fixture ``name`` and update its manifest; returns the manifest."""
    path = fixture_dir(name)
    model, processor = load_vlm(path)
    start = time.monotonic()
    manifest = read_manifest(path)
    manifest["heldout_metrics"] = measure(model, processor, n)
    manifest["check_metrics"] = measure(model, processor, check)
    manifest["measure_seconds"] = round(time.monotonic() - start, 1)
    manifest["torch_version"] = torch.__version__
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    log.info("%s: %s", name, manifest["heldout_metrics"])
    return manifest


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m photod_lab.toyworld.measure``."""
    logging.basicConfig(level=logging.INFO)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="+")
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--check", type=int, default=48)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    for name in a.names:
        measure_fixture(name, a.n, a.check)


if __name__ == "__main__":
    main()
