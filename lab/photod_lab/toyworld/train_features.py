"""Train the toy instance-feature model: a tiny DINOv2 whose patch tokens tell toy objects apart.

Usage::

    python -m photod_lab.toyworld.train_features \\
        --out lab/photod_lab/toyworld/fixtures/toy-features

The toy CLIP matches scenes to captions, which never mention decorations, so a dotted star and a
plain yellow star are the same to it. This model is trained on the base models' scenes
(:func:`photod_lab.toyworld.concepts.base_scene_generator`: ordinary objects, some decorated,
never a concept's look) with what the renderer knows for free, per 8x8 patch:

- the attributes of the object covering the patch (shape, colour, outline, each decoration's
  kind and colour; or background), read out linearly from the patch token;
- instance discrimination: the same object (same shape, colour and decorations) drawn in two
  different scenes must give close patch tokens (supervised contrastive loss), other objects,
  including its plain look-alike, far ones. With ``--lookalikes`` each pair gets a third scene
  holding the shared object's shape and colour with other or no decorations (a hard negative).

Only the ``Dinov2Model`` is saved (the read-out layers are training aids), in the layout
``transformers`` loads with ``from_pretrained`` plus ``manifest.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from transformers import Dinov2Config, Dinov2Model

from photod_lab.toyworld.concepts import BASE_DECORATED_PROB, concept_looks, toy_concepts
from photod_lab.toyworld.models import IMAGE_MEAN, IMAGE_STD
from photod_lab.toyworld.render import COLOURS, SHAPES, SUPERSAMPLE, draw_silhouette
from photod_lab.toyworld.scenes import (
    Scene,
    describe,
    ordinary_items,
    random_decoration,
    scene_from_items,
)
from photod_lab.toyworld.train import lr_at

log = logging.getLogger(__name__)
SCRIPT_VERSION = "1"
IMAGE_SIZE, PATCH = 64, 8
GRID = IMAGE_SIZE // PATCH
COLOUR_NAMES = tuple(COLOURS)
DECO_KINDS = ("dot", "ring", "tips", "stripes", "checker", "hat", "belly")
#: Read-out sizes: shape, colour, outline, decoration kinds, (kind, colour) pairs, object.
N_SHAPE, N_COLOUR, N_KIND = len(SHAPES), len(COLOUR_NAMES), len(DECO_KINDS)
N_PAIR = N_KIND * N_COLOUR


def feature_config(image_size: int = IMAGE_SIZE) -> Dinov2Config:
    """The toy feature model: 4 layers x 96, 8x8 patches (64 tokens on a 64 px photo)."""
    return Dinov2Config(
        image_size=image_size,
        patch_size=PATCH,
        hidden_size=96,
        num_hidden_layers=4,
        num_attention_heads=4,
        mlp_ratio=2,
    )


def object_masks(scene: Scene) -> np.ndarray:
    """``[objects, GRID, GRID]``: the share of each patch an object (decorations included)
    covers."""
    big = scene.image_size * SUPERSAMPLE
    out = []
    for o in scene.objects:
        mask = Image.new("L", (big, big), 0)
        draw_silhouette(ImageDraw.Draw(mask), o.spec, SUPERSAMPLE, margin=1.2)
        arr = np.asarray(mask.resize((GRID, GRID), Image.Resampling.BOX), np.float32) / 255
        out.append(arr)
    return np.stack(out) if out else np.zeros((0, GRID, GRID), np.float32)


def identity(obj) -> tuple:
    """What makes an object this instance: shape, colour and decorations (outline included)."""
    s = obj.spec
    return (s.shape, s.colour, tuple(sorted((d.kind, d.colour) for d in s.decorations)))


def patch_labels(scene: Scene, ids: dict[tuple, int]) -> dict[str, np.ndarray]:
    """Per-patch targets (row-major over the grid); -1: background."""
    n = GRID * GRID
    owner = np.full(n, -1, np.int64)
    masks = object_masks(scene).reshape(len(scene.objects), n)
    if len(masks):
        best = masks.argmax(0)
        owner = np.where(masks.max(0) >= 0.2, best, -1)
    shape = np.full(n, -1, np.int64)
    colour = np.full(n, -1, np.int64)
    multi = np.zeros((n, 1 + N_KIND + N_PAIR), np.float32)  # outline, kinds, pairs
    inst = np.full(n, -1, np.int64)
    for k, o in enumerate(scene.objects):
        at = owner == k
        shape[at] = SHAPES.index(o.spec.shape)
        colour[at] = COLOUR_NAMES.index(o.spec.colour)
        inst[at] = ids.setdefault(identity(o), len(ids))
        for d in o.spec.decorations:
            if d.kind == "outline":
                multi[at, 0] = 1
                continue
            kind = DECO_KINDS.index(d.kind)
            multi[at, 1 + kind] = 1
            multi[at, 1 + N_KIND + kind * N_COLOUR + COLOUR_NAMES.index(d.colour)] = 1
    return {"shape": shape, "colour": colour, "multi": multi, "inst": inst}


class SceneSource:
    """Pairs of base scenes sharing one object (the same instance in two different scenes)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.avoid = concept_looks(toy_concepts())

    def _items(self, n: int, exclude: tuple[str, ...] = ()) -> list:
        return ordinary_items(
            self.rng,
            n,
            0.25,
            exclude_shapes=exclude,
            decorated_prob=BASE_DECORATED_PROB,
            avoid=self.avoid,
        )

    def pair(self) -> tuple[Scene, Scene]:
        """Two scenes; the first object of the first scene recurs in the second."""
        first = self._items(int(self.rng.integers(1, 4)))
        shared = first[0]
        others = self._items(int(self.rng.integers(0, 3)), exclude=(shared[0],))
        a = scene_from_items(self.rng, first, IMAGE_SIZE)
        b = scene_from_items(self.rng, [shared, *others], IMAGE_SIZE)
        return a, b

    def group(self) -> tuple[Scene, Scene, Scene]:
        """A pair plus a look-alike scene: the shared object's shape and colour with other or
        no decorations (a hard negative: what tells a concept from its plain look-alike)."""
        a, b = self.pair()
        # Placement may reorder the objects: the shared one is the one both scenes hold.
        mine = next(i for i in map(identity, a.objects) if i in set(map(identity, b.objects)))
        shape, colour = mine[0], mine[1]
        for _ in range(8):
            decos = ()
            if self.rng.random() < 0.7:
                decos = random_decoration(self.rng, shape, colour, self.avoid)
            look = (shape, colour, decos, describe(shape, colour), None)
            if (shape, colour, tuple(sorted((d.kind, d.colour) for d in decos))) != mine:
                break
        others = self._items(int(self.rng.integers(0, 3)), exclude=(shape,))
        return a, b, scene_from_items(self.rng, [look, *others], IMAGE_SIZE)


def to_pixels(images: list[Image.Image]) -> torch.Tensor:
    """``[B, 3, H, W]`` normalised like the saved processor does."""
    arr = np.stack([np.asarray(im.convert("RGB"), np.float32) / 255 for im in images])
    arr = (arr - np.array(IMAGE_MEAN, np.float32)) / np.array(IMAGE_STD, np.float32)
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


def supcon(feats: torch.Tensor, inst: torch.Tensor, tau: float, limit: int, gen) -> torch.Tensor:
    """Supervised contrastive loss over object patches: same instance = positive."""
    keep = torch.nonzero(inst >= 0).squeeze(1)
    if len(keep) > limit:
        keep = keep[torch.randperm(len(keep), generator=gen)[:limit]]
    z, y = F.normalize(feats[keep], dim=-1), inst[keep]
    sim = z @ z.T / tau
    eye = torch.eye(len(z), dtype=torch.bool)
    sim = sim.masked_fill(eye, -1e9)
    pos = (y[:, None] == y[None, :]) & ~eye
    logp = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    has = pos.any(1)
    return -((logp * pos).sum(1)[has] / pos.sum(1)[has]).mean()


def group_parts(lab: dict[str, torch.Tensor], groups: int) -> list[tuple[torch.Tensor, ...]]:
    """Per look-alike group (scenes a, b, c in a row): the flat patch indices of the shared
    object in ``a``, in ``b``, and of its look-alike in ``c``; groups where one is hidden are
    left out."""
    n = GRID * GRID
    inst, shape, colour = (lab[k].reshape(-1, n) for k in ("inst", "shape", "colour"))
    out = []
    for g in range(groups):
        a, b, c = 3 * g, 3 * g + 1, 3 * g + 2
        shared = set(inst[a].tolist()) & set(inst[b].tolist()) - {-1}
        if not shared:
            continue
        mine = shared.pop()
        at_a = inst[a] == mine
        key = (int(shape[a][at_a][0]), int(colour[a][at_a][0]))
        look = [
            k
            for k in set(inst[c].tolist()) - {-1, mine}
            if (int(shape[c][inst[c] == k][0]), int(colour[c][inst[c] == k][0])) == key
        ]
        if not look:
            continue
        where = [
            torch.nonzero(m).squeeze(1) + s * n
            for s, m in ((a, at_a), (b, inst[b] == mine), (c, inst[c] == look[0]))
        ]
        out.append(tuple(where))
    return out


def lookalike_loss(
    tokens: torch.Tensor, parts: list[tuple[torch.Tensor, ...]], margin: float, tau: float
) -> torch.Tensor:
    """The head's own test, trained: the shared object's best patch match in its other scene
    must beat its best match on the look-alike by ``margin`` (soft maxima over patch pairs)."""
    if not parts:
        return tokens.sum() * 0.0
    z = F.normalize(tokens, dim=-1)
    losses = []
    for a, b, c in parts:
        pos = tau * torch.logsumexp((z[a] @ z[b].T).flatten() / tau, 0)
        neg = tau * torch.logsumexp((z[a] @ z[c].T).flatten() / tau, 0)
        losses.append(F.relu(margin + neg - pos))
    return torch.stack(losses).mean()


class Readout(torch.nn.Module):
    """Linear read-outs of the patch tokens (training only)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.obj = torch.nn.Linear(dim, 1)
        self.shape = torch.nn.Linear(dim, N_SHAPE)
        self.colour = torch.nn.Linear(dim, N_COLOUR)
        self.multi = torch.nn.Linear(dim, 1 + N_KIND + N_PAIR)

    def loss(self, tokens: torch.Tensor, lab: dict[str, torch.Tensor]) -> torch.Tensor:
        """Object / background everywhere; the object's attributes on its patches."""
        is_obj = lab["shape"] >= 0
        total = F.binary_cross_entropy_with_logits(self.obj(tokens).squeeze(-1), is_obj.float())
        t = tokens[is_obj]
        total = total + F.cross_entropy(self.shape(t), lab["shape"][is_obj])
        total = total + F.cross_entropy(self.colour(t), lab["colour"][is_obj])
        return total + F.binary_cross_entropy_with_logits(self.multi(t), lab["multi"][is_obj])


def batch_of(groups: list[tuple[Scene, ...]], images: list[tuple]) -> tuple:
    """Pixels and flattened per-patch labels of a batch of scene pairs (or groups)."""
    ids: dict[tuple, int] = {}
    ims, labs = [], []
    for group, group_images in zip(groups, images, strict=True):
        for s, im in zip(group, group_images, strict=True):
            ims.append(im)
            labs.append(patch_labels(s, ids))
    lab = {k: torch.from_numpy(np.concatenate([x[k] for x in labs])) for k in labs[0]}
    return to_pixels(ims), lab


@torch.no_grad()
def lookalike_margin(model: Dinov2Model, source: SceneSource, n: int) -> dict[str, float]:
    """Held-out check: mean best-patch similarity of an object to itself in another scene vs
    to other objects of the same shape and colour (a look-alike)."""
    model.eval()
    pairs = [source.pair() for _ in range(n)]
    px, lab = batch_of(pairs, [(a.image(), b.image()) for a, b in pairs])
    tok = F.normalize(model(pixel_values=px).last_hidden_state[:, 1:], dim=-1)
    inst = lab["inst"].reshape(len(px), -1)
    same, alike = [], []
    for i in range(0, len(px), 2):
        a_obj = int(inst[i][inst[i] >= 0][0]) if (inst[i] >= 0).any() else -1
        if a_obj < 0:
            continue
        qa = tok[i][inst[i] == a_obj]
        for j in range(len(px)):
            if j == i:
                continue
            for other in set(inst[j].tolist()) - {-1}:
                best = float((qa @ tok[j][inst[j] == other].T).max())
                if other == a_obj:
                    same.append(best)
                elif _look(other, a_obj, lab, inst, j, i):
                    alike.append(best)
    model.train()
    return {
        "same_instance": float(np.mean(same)) if same else 0.0,
        "lookalike": float(np.mean(alike)) if alike else 0.0,
        "lookalike_n": len(alike),
    }


def _look(other: int, mine: int, lab, inst, j: int, i: int) -> bool:
    shape = lab["shape"].reshape(inst.shape)
    colour = lab["colour"].reshape(inst.shape)
    a, b = inst[i] == mine, inst[j] == other
    return bool(shape[i][a][0] == shape[j][b][0] and colour[i][a][0] == colour[j][b][0])


def save_features(model: Dinov2Model, out: Path, manifest: dict) -> None:
    """``config.json``, ``model.safetensors``, ``preprocessor_config.json``, manifest."""
    from transformers import BitImageProcessor

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    BitImageProcessor(
        do_resize=True,
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        do_center_crop=False,
        image_mean=list(IMAGE_MEAN),
        image_std=list(IMAGE_STD),
        do_convert_rgb=True,
    ).save_pretrained(out)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def _save(model, args, step: int, start: float, final: bool = True) -> None:
    # The held-out check takes minutes on a shared CPU: intermediate saves skip it.
    check = lookalike_margin(model, SceneSource(args.dev_seed), 150) if final else {}
    minutes = (time.monotonic() - start) / 60
    log.info("held-out %s after %d steps, %.1f min", check, step, minutes)
    save_features(
        model,
        Path(args.out),
        {
            "script_version": SCRIPT_VERSION,
            "kind": "features",
            "train_args": vars(args),
            "step": step,
            "minutes": round(minutes, 2),
            "heldout_metrics": {**check, "seed": args.dev_seed},
        },
    )


def train(args: argparse.Namespace) -> None:
    """Train and save the toy feature model with its manifest."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    if args.init_from:
        # A continuation: the read-outs start afresh (they are training aids, not saved).
        model = Dinov2Model.from_pretrained(args.init_from)
        model.train()
        previous = json.loads((Path(args.init_from) / "manifest.json").read_text())
        args.previous_runs = [
            *previous.get("train_args", {}).get("previous_runs", []),
            {k: previous.get(k) for k in ("train_args", "step", "minutes", "heldout_metrics")},
        ]
    else:
        model = Dinov2Model(feature_config())
    head = Readout(model.config.hidden_size)
    source = SceneSource(args.seed)
    draw = source.group if args.lookalikes else source.pair
    pool = [draw() for _ in range(args.pool)]
    images = [tuple(s.image() for s in g) for g in pool]
    params = list(model.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.05)
    start, nxt, done = time.monotonic(), 0, 0
    rng = np.random.default_rng(args.seed + 1)
    for step in range(args.steps):
        elapsed = (time.monotonic() - start) / 60
        if elapsed > args.minutes:
            break
        for _ in range(args.fresh):
            pool[nxt] = draw()
            images[nxt] = tuple(s.image() for s in pool[nxt])
            nxt = (nxt + 1) % len(pool)
        idx = rng.integers(0, len(pool), size=args.batch)
        px, lab = batch_of([pool[i] for i in idx], [images[i] for i in idx])
        for g in opt.param_groups:
            g["lr"] = lr_at(step, max(step / args.steps, elapsed / args.minutes), args.lr, 100)
        # A continuation's read-outs start from random weights: train them alone at first, so
        # that their early gradients do not disturb the features they read.
        model.requires_grad_(step >= args.readout_warmup)
        tokens = model(pixel_values=px).last_hidden_state[:, 1:].reshape(-1, 96)
        read = head.loss(tokens, lab)
        con = supcon(tokens, lab["inst"], args.tau, args.contrast_patches, gen)
        loss = read + args.contrast_weight * con
        hard = torch.zeros(())
        if args.lookalikes and args.lookalike_weight:
            parts = group_parts(lab, len(idx))
            hard = lookalike_loss(tokens, parts, args.lookalike_margin, args.lookalike_tau)
            loss = loss + args.lookalike_weight * hard
        opt.zero_grad()
        loss.backward()
        opt.step()
        done = step + 1
        if step % args.log_every == 0:
            log.info(
                "step %d read-out %.4f contrast %.4f look-alike %.4f",
                step,
                read.item(),
                con.item(),
                hard.item(),
            )
        if args.save_last and done % args.save_last == 0:
            _save(model, args, done, start, final=False)
    _save(model, args, done, start)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m photod_lab.toyworld.train_features``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--minutes", type=float, default=12.0)
    p.add_argument("--batch", type=int, default=32, help="scene pairs per step")
    p.add_argument("--fresh", type=int, default=8)
    p.add_argument("--pool", type=int, default=2048)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--tau", type=float, default=0.1)
    p.add_argument("--contrast-weight", type=float, default=1.0)
    p.add_argument("--contrast-patches", type=int, default=384)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument(
        "--readout-warmup",
        type=int,
        default=0,
        metavar="N",
        help="train only the read-outs for the first N steps (for --init-from)",
    )
    p.add_argument("--dev-seed", type=int, default=8111, help="seed of the held-out scenes")
    p.add_argument("--init-from", default=None, help="continue from this model directory")
    p.add_argument(
        "--lookalikes",
        action="store_true",
        help="add to each pair a scene with the shared object's look-alike (a hard negative)",
    )
    p.add_argument(
        "--lookalike-weight",
        type=float,
        default=1.0,
        help="weight of the look-alike margin loss (with --lookalikes)",
    )
    p.add_argument("--lookalike-margin", type=float, default=0.2)
    p.add_argument("--lookalike-tau", type=float, default=0.02)
    p.add_argument(
        "--save-last",
        type=int,
        default=0,
        metavar="N",
        help="also save every N steps (a stopped run keeps its last save)",
    )
    train(p.parse_args(argv))


if __name__ == "__main__":
    main()
