"""The toy-world targets and the tables of docs/personalization.md, on the same splits.

Runs the ``photod eval`` protocol with one seed so that every row sees the same training
splits, and prints a markdown table. ``myvlm`` with gate ``heads`` is photod itself
(:class:`photod_lab.evaluation.heads_gate.HeadsEvaluator`: ``photod concept add`` +
``photod concept train``, then the daemon's heads and captions); with gate ``oracle`` (or
``always``) the variants are ``base`` and the overrides of
:data:`photod_lab.evaluation.myvlm.VARIANTS`, fired exactly where their concept is.

Usage::

    python -m photod_lab.toyworld.dataset /tmp/toy-11 --seed 11
    nice python bench/personalization_eval.py /tmp/toy-11 --model toy-blip2 \\
        --gates heads,oracle --targets generated --splits 1 --threads 1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from photod_lab.evaluation.baseline import BaseModelPersonalizer
from photod_lab.evaluation.dataset import load_dataset
from photod_lab.evaluation.harness import EvalConfig, Evaluator
from photod_lab.evaluation.heads_gate import HeadsEvaluator
from photod_lab.evaluation.myvlm import MyVLMPersonalizer
from photod_lab.evaluation.product import PhotodInstallation
from photod_lab.toyworld.fixture import fixture_dir, read_manifest


def _get(report: dict, *path: str) -> float | None:
    node = report
    for p in path:
        node = node.get(p) if isinstance(node, dict) else None
        if node is None:
            return None
    return node["mean"] if isinstance(node, dict) else node


def _evaluate(
    data_root: Path, model_dir: Path, variant: str, cfg: EvalConfig, features: Path | None
):
    """(report, training seconds per concept) of one row."""
    data = load_dataset(data_root)
    if cfg.gate == "heads":
        with tempfile.TemporaryDirectory(prefix="photod-bench-") as work:
            photod = PhotodInstallation(
                data_root, model_dir, fixture_dir("toy-clip"), Path(work), features
            )
            report = HeadsEvaluator(photod, cfg, progress=False).run(data)
        # The whole `photod concept train` of each concept: head and embedding.
        secs = [m["seconds"] for s in report["splits"] for m in s["training"].values()]
        return report, secs
    if variant == "base":
        p = BaseModelPersonalizer(model_dir)
    else:
        p = MyVLMPersonalizer(model_dir, variant=variant)
    return Evaluator(p, cfg, progress=False).run(data), getattr(p, "seconds", [])


def run(
    data_root: Path, model: str, variant: str, cfg: EvalConfig, features: Path | None = None
) -> dict:
    """One row's report plus its mean training time per concept."""
    model_dir = fixture_dir(model) if fixture_dir(model).is_dir() else Path(model)
    manifest = read_manifest(model_dir)  # fixtures are retrained: record which one ran
    start = time.perf_counter()
    report, secs = _evaluate(data_root, model_dir, variant, cfg, features)
    return {
        "dataset": str(data_root),
        "variant": variant,
        "model": model,
        "gate": cfg.gate,
        "targets": cfg.targets,
        "shots": cfg.shots,
        "splits": cfg.splits,
        "recall": _get(report, "overall", "recall"),
        "false_identifier_rate": _get(report, "overall", "false_identifier_rate"),
        "scene_accuracy": _get(report, "overall", "scene_accuracy"),
        "base_scene_accuracy": _get(report, "overall", "base_scene_accuracy"),
        "head_tpr": _get(report, "overall", "head_tpr"),
        "head_fpr": _get(report, "overall", "head_fpr"),
        "multi_f1": _get(report, "multi", "f1"),
        "multi_f1_two": _get(report, "multi", "by_count", "2", "f1"),
        "multi_scene_accuracy": _get(report, "multi", "scene_accuracy"),
        "train_seconds_mean": sum(secs) / len(secs) if secs else None,
        "wall_seconds": round(time.perf_counter() - start, 1),
        "fixture": {k: manifest.get(k) for k in ("step", "dev_metrics", "minutes")},
        "head_features": str(features) if features else None,
        "report": report,
    }


def table(rows: list[dict]) -> str:
    """Markdown table of the headline numbers."""

    def pct(v):
        return "-" if v is None else f"{100 * v:.1f}"

    out = [
        "| dataset | model | gate | targets | variant | recall % | false-id % | scene acc % "
        "| base scene acc % | F1 two concepts % | head TPR % | head FPR % | train s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t = r["train_seconds_mean"]
        out.append(
            f"| {Path(r['dataset']).name} | {r['model']} | {r['gate']} | {r['targets']} | "
            f"{r['variant']} | {pct(r['recall'])} | {pct(r['false_identifier_rate'])} | "
            f"{pct(r['scene_accuracy'])} | {pct(r['base_scene_accuracy'])} | "
            f"{pct(r['multi_f1_two'])} | {pct(r['head_tpr'])} | {pct(r['head_fpr'])} | "
            f"{'-' if t is None else f'{t:.1f}'} |"
        )
    return "\n".join(out)


def main() -> None:
    """Run the requested rows and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", type=Path, nargs="+")
    ap.add_argument("--model", action="append", default=None)
    ap.add_argument("--variants", default="myvlm")
    ap.add_argument("--gates", default="heads")
    ap.add_argument("--targets", default="generated")
    ap.add_argument("--shots", type=int, default=4)
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-heldout", type=int, default=None)
    ap.add_argument("--max-negatives", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--head-features",
        default="toy-features",
        help="toy fixture or folder of the object heads' feature model; 'none': CLIP linear",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    hf = args.head_features
    features = None if hf == "none" else fixture_dir(hf) if fixture_dir(hf).is_dir() else Path(hf)
    rows = []
    for data_root in args.datasets:
        for model in args.model or ["toy-blip2", "toy-llava"]:
            for gate in args.gates.split(","):
                for targets in args.targets.split(","):
                    for v in args.variants.split(",") if gate != "heads" else ["myvlm"]:
                        cfg = EvalConfig(
                            args.splits,
                            args.shots,
                            args.seed,
                            gate,
                            targets,
                            args.max_heldout,
                            args.max_negatives,
                        )
                        rows.append(run(data_root, model, v, cfg, features))
                        print(table(rows[-1:]).splitlines()[-1], flush=True)
                        if args.json:
                            args.json.write_text(json.dumps(rows, indent=2))
    print(table(rows))


if __name__ == "__main__":
    main()
