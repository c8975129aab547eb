"""How much the concept tokens of one photo compete for the same BLIP-2 Q-Former queries.

Trains every concept of a `photod eval` dataset on one split (photod's settings for the
model, plus ``--set key=value`` overrides), then, on each multi-concept photo, appends each
fired concept's token *alone* and records the query->concept cross-attention probabilities
(mean over heads, every cross-attention layer). Prints, over the multi-concept photos:

- the mean peak: the largest probability any query gives the token;
- the mean overlap: the cosine between two tokens' attention profiles over (layer, query),
  for every pair of concepts in a photo. Near 1, both tokens are read by the same queries,
  and together those queries carry a blend of the two (docs/personalization.md, the cd3a08c run);
- the share kept: with all of a photo's tokens appended in one softmax, the attention each
  token gets (summed over layers and queries) over what it gets alone; the mean, and the
  mean of the quarter of tokens that keep least (the a28c26b run: the token that loses half is
  the one whose name is lost).

    python bench/query_crowding.py /tmp/toy-eval --model toy-blip2
    python bench/query_crowding.py /tmp/toy-eval --model toy-blip2 --set reg_lambda=0.04

BLIP-2 only; the Q-Former must run eager attention (the toy fixtures do).
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from photod_lab.evaluation.dataset import load_dataset
from photod_lab.evaluation.harness import draw_splits
from photod_lab.evaluation.myvlm import MyVLMPersonalizer
from photod_lab.toyworld.fixture import fixture_dir


def slot_attention(session, image, tokens: list[torch.Tensor]) -> torch.Tensor:
    """Query->slot probabilities with ``tokens`` appended (mean over heads),
    ``(layers, queries, tokens)``."""
    with torch.no_grad(), session.injection([tokens], record_attention=True) as inj:
        session.model.generate(pixel_values=session.pixel_values([image]), max_new_tokens=1)
        return torch.stack([a[0].mean(dim=0) for a in inj.attention])


def token_profile(session, image, vector: torch.Tensor) -> torch.Tensor:
    """Query->concept probabilities of one concept's tokens alone (summed over its tokens),
    ``(layers * queries,)``."""
    return slot_attention(session, image, list(vector)).sum(dim=-1).flatten()


def joint_masses(session, image, vectors: list[torch.Tensor]) -> list[float]:
    """Attention each concept's tokens get with all ``vectors`` appended in one softmax
    (summed over layers, queries and its tokens), one per concept."""
    per_slot = slot_attention(session, image, [t for v in vectors for t in v]).sum(dim=(0, 1))
    ends = np.cumsum([len(v) for v in vectors])
    return [float(per_slot[end - len(v) : end].sum()) for v, end in zip(vectors, ends, strict=True)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--model", default="toy-blip2", help="toy fixture name or model folder")
    ap.add_argument("--split", type=int, default=0, help="which of the protocol's splits")
    ap.add_argument("--splits", type=int, default=5, help="the protocol's number of splits")
    ap.add_argument("--shots", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0, help="the protocol's split seed")
    ap.add_argument("--set", action="append", default=[], help="training override key=value")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    model = Path(args.model) if Path(args.model).exists() else fixture_dir(args.model)
    personalizer = MyVLMPersonalizer(model, overrides=overrides)
    if personalizer.session.family != "blip2":
        raise SystemExit("query crowding is measured on BLIP-2's Q-Former only")
    data = load_dataset(args.dataset)
    # The harness's draw (same seed, same order), so split k is `photod eval`'s split k.
    rng = np.random.default_rng(args.seed)
    splits = {
        c.info.key: draw_splits(len(c.images), args.shots, args.splits, rng) for c in data.concepts
    }
    tokens = {}
    for c in data.concepts:
        train_idx, _ = splits[c.info.key][args.split]
        paths = [c.images[i] for i in train_idx]
        images = [Image.open(p).convert("RGB") for p in paths]
        trained = personalizer.train(c.info, images, [c.captions.get(p.name, []) for p in paths])
        tokens[c.info.key] = trained.embedding
    # The share kept is measured in one softmax, whatever the settings say.
    personalizer.session.settings.concept_attention = "joint"
    peaks, overlaps, kept = [], [], []
    for m in data.multi:
        image = Image.open(m.image).convert("RGB")
        profiles = {k: token_profile(personalizer.session, image, tokens[k]) for k in m.concepts}
        peaks += [float(p.max()) for p in profiles.values()]
        together = joint_masses(personalizer.session, image, [tokens[k] for k in m.concepts])
        kept += [t / float(profiles[k].sum()) for k, t in zip(m.concepts, together, strict=True)]
        overlaps += [
            float(F.cosine_similarity(profiles[a], profiles[b], dim=0))
            for a, b in itertools.combinations(m.concepts, 2)
        ]
    print(
        json.dumps(
            {
                "model": model.name,
                "overrides": overrides,
                "split": args.split,
                "photos": len(data.multi),
                "mean_peak": round(float(np.mean(peaks)), 3),
                "mean_overlap": round(float(np.mean(overlaps)), 3),
                "mean_share_kept": round(float(np.mean(kept)), 3),
                "lowest_quarter_share_kept": round(
                    float(np.mean(sorted(kept)[: max(1, len(kept) // 4)])), 3
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
