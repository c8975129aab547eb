"""The toy-world targets and the ablation table of docs/personalization.md, on the same splits.

Runs the ``photod eval`` protocol (:class:`photod_lab.evaluation.harness.Evaluator`) for the base
model and for MyVLM variants through photod's own concept training and captioning (the
fixture's settings, without key/value norm matching, without the regulariser, with a photo's
concept tokens in one softmax, the reference settings unchanged: the overrides of
:data:`photod_lab.evaluation.myvlm.VARIANTS`), with one seed so that every variant sees the
same training splits, and prints a markdown table.

Usage::

    python -m photod_lab.toyworld.dataset /tmp/toydata
    python bench/personalization_eval.py /tmp/toydata --model toy-blip2 --shots 4 \
        --variants base,myvlm,no_kv_norm,no_regulariser --json out.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from photod_lab.evaluation.baseline import BaseModelPersonalizer
from photod_lab.evaluation.dataset import load_dataset
from photod_lab.evaluation.harness import EvalConfig, Evaluator
from photod_lab.evaluation.myvlm import MyVLMPersonalizer
from photod_lab.toyworld.fixture import fixture_dir, read_manifest


def _get(report: dict, *path: str) -> float | None:
    node = report
    for p in path:
        node = node.get(p) if isinstance(node, dict) else None
        if node is None:
            return None
    return node["mean"] if isinstance(node, dict) else node


def run(data_root: Path, model: str, variant: str, cfg: EvalConfig) -> dict:
    """One variant's report plus its mean training time per concept."""
    model_dir = fixture_dir(model) if fixture_dir(model).is_dir() else Path(model)
    if variant == "base":
        p = BaseModelPersonalizer(model_dir)
    else:
        p = MyVLMPersonalizer(model_dir, variant=variant)
    manifest = read_manifest(model_dir)  # fixtures are retrained: record which one ran
    start = time.perf_counter()
    report = Evaluator(p, cfg, progress=False).run(load_dataset(data_root))
    secs = getattr(p, "seconds", [])
    return {
        "variant": variant,
        "model": model,
        "shots": cfg.shots,
        "splits": cfg.splits,
        "recall": _get(report, "overall", "recall"),
        "false_identifier_rate": _get(report, "overall", "false_identifier_rate"),
        "scene_accuracy": _get(report, "overall", "scene_accuracy"),
        "multi_f1": _get(report, "multi", "f1"),
        "multi_f1_two": _get(report, "multi", "by_count", "2", "f1"),
        "multi_scene_accuracy": _get(report, "multi", "scene_accuracy"),
        "train_seconds_mean": sum(secs) / len(secs) if secs else None,
        "wall_seconds": round(time.perf_counter() - start, 1),
        "fixture": {k: manifest.get(k) for k in ("step", "dev_metrics", "minutes")},
        "report": report,
    }


def table(rows: list[dict]) -> str:
    """Markdown table of the headline numbers."""

    def pct(v):
        return "-" if v is None else f"{100 * v:.1f}"

    out = [
        "| model | variant | shots | recall % | false-id % | scene acc % | multi F1 % "
        "| F1 two concepts % | train s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t = r["train_seconds_mean"]
        out.append(
            f"| {r['model']} | {r['variant']} | {r['shots']} | {pct(r['recall'])} | "
            f"{pct(r['false_identifier_rate'])} | {pct(r['scene_accuracy'])} | "
            f"{pct(r['multi_f1'])} | {pct(r['multi_f1_two'])} | "
            f"{'-' if t is None else f'{t:.1f}'} |"
        )
    return "\n".join(out)


def main() -> None:
    """Run the requested variants and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--model", action="append", default=None)
    ap.add_argument("--variants", default="base,myvlm")
    ap.add_argument("--shots", type=int, default=4)
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-heldout", type=int, default=None)
    ap.add_argument("--max-negatives", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = EvalConfig(
        args.splits, args.shots, args.seed, "oracle", args.max_heldout, args.max_negatives
    )
    rows = []
    for model in args.model or ["toy-blip2", "toy-llava"]:
        for v in args.variants.split(","):
            rows.append(run(args.dataset, model, v, cfg))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
