"""Rendering of an evaluation report: a plain-text table and a JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from photod_lab.evaluation.harness import METRICS

HEADERS = {
    "recall": "recall",
    "false_identifier_rate": "false-id",
    "text_similarity": "text-sim",
    "clipscore": "CLIPScore",
    "scene_accuracy": "scene-acc",
    "base_scene_accuracy": "base scene-acc",
    "head_tpr": "head TPR",
    "head_fpr": "head FPR",
    "head_threshold": "head thr",
}


def _cell(stat: dict[str, float] | None, metric: str) -> str:
    if not stat:
        return "-"
    scale = 1.0 if metric in ("clipscore", "head_threshold") else 100.0
    if metric == "head_threshold":
        return f"{stat['mean']:.2f}±{stat['std']:.2f}"
    return f"{stat['mean'] * scale:.1f}±{stat['std'] * scale:.1f}"


def format_table(report: dict[str, Any]) -> str:
    """Per-concept rows, the overall mean, and the multi-concept line (rates in percent)."""
    cols = [m for m in METRICS if m in report.get("overall", {})]
    rows = [["concept", *[HEADERS[m] for m in cols]]]
    for key, stats in report.get("per_concept", {}).items():
        rows.append([key, *[_cell(stats.get(m), m) for m in cols]])
    rows.append(["ALL", *[_cell(report["overall"].get(m), m) for m in cols]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    multi = report.get("multi")
    if multi:
        lines.append("")
        pooled = {m: s for m, s in multi.items() if m != "by_count"}
        lines.append("multi-concept: " + "  ".join(f"{m}={_cell(s, m)}" for m, s in pooled.items()))
        for n, stats in multi.get("by_count", {}).items():
            cells = "  ".join(f"{m}={_cell(s, m)}" for m, s in stats.items())
            lines.append(f"  {n} concepts: {cells}")
    lines.append(
        f"personalizer: {report.get('personalizer')}  "
        f"(values in % except CLIPScore; mean±std over splits)"
    )
    return "\n".join(lines)


def write_json(report: dict[str, Any], path: Path) -> None:
    """Write the full report (including per-split rows and example captions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=False))
