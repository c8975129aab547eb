"""Concept-embedding training time per concept per VLM on a toy fixture (target: <= 60 s on
2 CPU cores).

Times ``photod concept train``'s own training of one VLM
(:func:`photod.vlm.concept_training.train_concept_embedding`): base-model target generation
(captions, and with ``--vqa`` the VQA pool for LLaVA), feature caching over the augmented
views, and the training steps with the fixture's settings (its ``photod.yaml``).

Usage::

    python bench/train_concept.py --model toy-blip2 --model toy-llava --threads 2 \
        --dataset /tmp/toydata --json bench-train-concept.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from photod.vlm.concept_training import train_concept_embedding
from photod_lab.evaluation.myvlm import MyVLMPersonalizer
from photod_lab.toyworld.fixture import fixture_dir


def bench_one(model: str, concept_dir: Path, shots: int, runs: int, vqa: bool) -> dict:
    """Seconds for target generation + training, per run, for one fixture and concept."""
    p = MyVLMPersonalizer(fixture_dir(model), overrides={"vqa": vqa})
    meta = json.loads((concept_dir / "concept.json").read_text())
    files = sorted(concept_dir.glob("*.png"))[:shots]
    images = [Image.open(f).convert("RGB") for f in files]
    rows = []
    for run in range(runs):
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as version_dir:
            trained = train_concept_embedding(
                p.runtime,
                identifier=meta["identifier"],
                class_word=meta["class_word"],
                class_phrase=meta["class_phrase"],
                kind=meta.get("kind", "object"),
                images=images,
                version_dir=Path(version_dir),
                progress=False,
            )[p.entry.id]
        seconds = time.perf_counter() - start
        rows.append(
            {
                "run": run,
                "seconds": round(seconds, 2),
                "targets_seconds": round(seconds - trained["seconds"], 2),
                "cache_seconds": trained["cache_seconds"],
                "train_seconds": trained["seconds"],
            }
        )
    return {
        "model": model,
        "family": p.session.family,
        "concept": concept_dir.name,
        "shots": shots,
        "settings": trained["settings"],
        "runs": rows,
        "max_seconds": max(r["seconds"] for r in rows),
    }


def main() -> None:
    """Run the benchmark and print/write the results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", default=None)
    ap.add_argument(
        "--dataset", type=Path, required=True, help="python -m photod_lab.toyworld.dataset"
    )
    ap.add_argument("--concept", default="dotted_star")
    ap.add_argument("--shots", type=int, default=4)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--vqa", action="store_true", help="also train on the VQA pool (LLaVA)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = {
        "threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "results": [],
    }
    for model in args.model or ["toy-blip2", "toy-llava"]:
        r = bench_one(model, args.dataset / args.concept, args.shots, args.runs, args.vqa)
        out["results"].append(r)
        print(
            f"{model}: {r['max_seconds']:.1f} s per concept (worst of {args.runs} runs; "
            f"target <= 60 s) {r['runs']}"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
