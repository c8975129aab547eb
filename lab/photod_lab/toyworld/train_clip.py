"""Train the toy CLIP contrastively on freshly generated scenes.

Usage: ``python -m photod_lab.toyworld.train_clip --out lab/photod_lab/toyworld/fixtures/toy-clip``
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from photod_lab.toyworld.clip import (
    build_clip,
    clip_scene,
    contrastive_loss,
    load_clip,
    save_clip,
    to_tensor,
)
from photod_lab.toyworld.tokenizer import build_tokenizer
from photod_lab.toyworld.train import lr_at

log = logging.getLogger(__name__)
SCRIPT_VERSION = "1"


@torch.no_grad()
def retrieval_accuracy(model, tok, scenes, context_length: int) -> float:
    """Share of images whose best-scoring text (among the set's distinct texts) is their own."""
    model.eval()
    texts = sorted({s.caption() for s in scenes})
    tokens = tok(
        texts, padding="max_length", max_length=context_length, truncation=True, return_tensors="pt"
    )["input_ids"]
    txt = F.normalize(model.encode_text(tokens), dim=-1)
    img = F.normalize(model.encode_image(to_tensor([s.image() for s in scenes])), dim=-1)
    best = (img @ txt.T).argmax(dim=1).tolist()
    model.train()
    return sum(texts[b] == s.caption() for b, s in zip(best, scenes, strict=False)) / len(scenes)


def train(args: argparse.Namespace) -> None:
    """Train and save the toy CLIP with its manifest."""
    torch.set_num_threads(args.threads)
    model, cfg = build_clip(seed=args.seed)
    if args.init_from:
        model, _, _ = load_clip(args.init_from)
        model.train()
    tok = build_tokenizer(padding_side="right", append_eos=True)
    ctx = cfg["text_cfg"]["context_length"]
    rng = np.random.default_rng(args.seed)
    pool = [clip_scene(rng, 64) for _ in range(args.pool)]
    images = [s.image() for s in pool]
    dev_rng = np.random.default_rng(args.dev_seed)
    dev = [clip_scene(dev_rng, 64) for _ in range(300)]
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    start, nxt = time.monotonic(), 0
    for step in range(args.steps):
        elapsed = (time.monotonic() - start) / 60
        if elapsed > args.minutes:
            break
        for _ in range(args.fresh):
            pool[nxt] = clip_scene(rng, 64)
            images[nxt] = pool[nxt].image()
            nxt = (nxt + 1) % len(pool)
        idx = rng.integers(0, len(pool), size=args.batch)
        texts = [pool[i].caption() for i in idx]
        tokens = tok(
            texts, padding="max_length", max_length=ctx, truncation=True, return_tensors="pt"
        )["input_ids"]
        for g in opt.param_groups:
            g["lr"] = lr_at(step, max(step / args.steps, elapsed / args.minutes), args.lr, 100)
        loss = contrastive_loss(model, to_tensor([images[i] for i in idx]), tokens, texts)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            log.info("step %d loss %.4f", step, loss.item())
    acc = retrieval_accuracy(model, tok, dev, ctx)
    minutes = (time.monotonic() - start) / 60
    log.info("held-out text retrieval accuracy %.3f after %.1f min", acc, minutes)
    save_clip(
        model,
        cfg,
        Path(args.out),
        {
            "script_version": SCRIPT_VERSION,
            "kind": "clip",
            "train_args": vars(args),
            "step": step + 1,
            "minutes": round(minutes, 2),
            "heldout_metrics": {"text_retrieval_top1": acc, "n": len(dev), "seed": args.dev_seed},
        },
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m photod_lab.toyworld.train_clip``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--steps", type=int, default=2500)
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--batch", type=int, default=96)
    p.add_argument("--fresh", type=int, default=16)
    p.add_argument("--pool", type=int, default=4096)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--dev-seed", type=int, default=7922, help="seed of the held-out scenes")
    p.add_argument("--init-from", default=None, help="continue from this CLIP directory")
    train(p.parse_args(argv))


if __name__ == "__main__":
    main()
