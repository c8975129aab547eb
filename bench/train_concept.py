"""Concept-embedding training time per concept per VLM on a toy fixture (target: <= 60 s on
2 CPU cores).

Times what ``photod concept train`` does for one VLM: base-model target generation (captions,
and the VQA pool for LLaVA), feature caching over the augmented views, and the training
steps with the fixture's toy settings.

Usage::

    python bench/train_concept.py --model toy-blip2 --model toy-llava --threads 2 \
        --dataset /tmp/toydata --json bench-train-concept.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from PIL import Image

from photod.toyworld.fixture import fixture_dir
from photod.vlm.personalizer import MyVLMPersonalizer
from photod.vlm.targets import OBJECT_QUESTIONS, generate_targets, with_mirrors
from photod.vlm.training import TrainExample, train_embedding


def bench_one(model: str, concept_dir: Path, shots: int, runs: int) -> dict:
    """Seconds for target generation + training, per run, for one fixture and concept."""
    p = MyVLMPersonalizer(fixture_dir(model))
    meta = json.loads((concept_dir / "concept.json").read_text())
    files = sorted(concept_dir.glob("*.png"))[:shots]
    images = [Image.open(f).convert("RGB") for f in files]
    session = p.session
    questions = OBJECT_QUESTIONS[:3] if session.family == "llava" else ()
    rows = []
    for run in range(runs):
        start = time.perf_counter()
        targets = generate_targets(
            session,
            images,
            meta["identifier"],
            meta["class_phrase"],
            meta["class_word"],
            questions=questions,
        )
        examples = with_mirrors(
            session,
            [TrainExample(im, t) for im, t in zip(images, targets, strict=True)],
            meta["identifier"],
            meta["class_phrase"],
            meta["class_word"],
            p.settings.mirrors,
        )
        t_targets = time.perf_counter() - start
        trained = train_embedding(session, examples, meta["identifier"], p.settings, progress=False)
        rows.append(
            {
                "run": run,
                "seconds": round(time.perf_counter() - start, 2),
                "targets_seconds": round(t_targets, 2),
                "cache_seconds": trained.meta["cache_seconds"],
                "train_seconds": trained.meta["seconds"],
            }
        )
    return {
        "model": model,
        "family": session.family,
        "concept": concept_dir.name,
        "shots": shots,
        "settings": trained.meta["settings"],
        "runs": rows,
        "max_seconds": max(r["seconds"] for r in rows),
    }


def main() -> None:
    """Run the benchmark and print/write the results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", default=None)
    ap.add_argument("--dataset", type=Path, required=True, help="python -m photod.toyworld.dataset")
    ap.add_argument("--concept", default="dotted_star")
    ap.add_argument("--shots", type=int, default=4)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
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
        r = bench_one(model, args.dataset / args.concept, args.shots, args.runs)
        out["results"].append(r)
        print(
            f"{model}: {r['max_seconds']:.1f} s per concept (worst of {args.runs} runs; "
            f"target <= 60 s) {r['runs']}"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
