"""Offline study of the patch-prototype instance head on a toy-world dataset draw.

    PYTHONPATH=.:lab python bench/instance_heads.py /work/q-runs/toy-100 \
        --features lab/photod_lab/toyworld/fixtures/toy-features --splits 2

Each concept is taught from 4 random photos of its folder (1 held out, as ``ObjectHead.train``
does), with every other photo of the dataset as the library (the concept's own other photos
included, unlabelled, as in a user's library). TPR is measured over every non-training photo
holding the concept (its folder and the multi-concept scenes), FPR over all the others.
Prints per-concept figures and the oracle bound (best threshold chosen on the test labels).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from photod.heads.patches import calibrate, photo_scores, select
from photod.models.features import PatchEmbedder


def dataset(root: Path) -> tuple[list[Path], dict[str, set[int]]]:
    """Every photo and, per concept, the indices of the photos holding it."""
    paths: list[Path] = []
    holds: dict[str, set[int]] = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(d.glob("*.png")):
            if not d.name.startswith("_"):
                holds.setdefault(d.name, set()).add(len(paths))
            paths.append(f)
    multi = json.loads((root / "_multi" / "scenes.json").read_text())
    for i, p in enumerate(paths):
        if p.parent.name == "_multi":
            for c in multi[p.name]["concepts"]:
                holds[c].add(i)
    return paths, holds


def main() -> None:
    """Run the study and print a JSON summary."""
    p = argparse.ArgumentParser()
    p.add_argument("root", type=Path)
    p.add_argument("--features", required=True)
    p.add_argument("--splits", type=int, default=2)
    p.add_argument("--per-example", type=int, default=4)
    p.add_argument("--threshold-level", type=float, default=0.3)
    p.add_argument("--max-library-share", type=float, default=0.2)
    p.add_argument("--library", type=int, default=64, help="random library photos per concept")
    args = p.parse_args()
    paths, holds = dataset(args.root)
    emb = PatchEmbedder(f"local-dir:{Path(args.features).resolve()}", Path("/tmp"))
    tokens = emb.embed([Image.open(x).convert("RGB") for x in paths])
    rows, bound = [], []
    for split in range(args.splits):
        rng = np.random.default_rng(1000 + split)
        for concept in sorted(holds):
            own = sorted(i for i in holds[concept] if paths[i].parent.name == concept)
            picked = [int(i) for i in rng.choice(own, 4, replace=False)]
            hold, train = picked[:1], picked[1:]
            rest = [i for i in range(len(paths)) if i not in picked]
            lib = rng.choice(rest, min(args.library, len(rest)), replace=False)
            protos = select([tokens[i] for i in train], tokens[lib], args.per_example)
            thr = calibrate(
                [tokens[i] for i in train],
                [tokens[i] for i in hold],
                tokens[lib],
                args.per_example,
                args.threshold_level,
                args.max_library_share,
            )
            test = [i for i in range(len(paths)) if i not in train]
            s = photo_scores(protos, tokens[test])
            y = np.array([i in holds[concept] for i in test])
            fired = s >= thr
            rows.append((concept, fired[y].mean(), fired[~y].mean(), thr))
            neg = np.sort(s[~y])[::-1]
            cut = neg[max(0, int(0.01 * len(neg)))]
            bound.append((s[y] > cut).mean())
    for c in sorted(holds):
        r = [x for x in rows if x[0] == c]
        print(f"{c:18s} TPR {np.mean([x[1] for x in r]):.3f} FPR {np.mean([x[2] for x in r]):.3f}")
    print(
        json.dumps(
            {
                "tpr": float(np.mean([x[1] for x in rows])),
                "fpr": float(np.mean([x[2] for x in rows])),
                "oracle_tpr_at_fpr_1pct": float(np.mean(bound)),
            }
        )
    )


if __name__ == "__main__":
    main()
