"""Train the tiny toy-world VLMs from scratch and save them as local model directories.

Usage::

    python -m photod_lab.toyworld.train --model llava \
        --out lab/photod_lab/toyworld/fixtures/toy-llava
    python -m photod_lab.toyworld.train --model blip2 \
        --out lab/photod_lab/toyworld/fixtures/toy-blip2

Data is generated on the fly: a rolling pool of recent scenes is refreshed with freshly
rendered ones every step (a fixed set overfits; rendering every sample anew costs more CPU
than the model step on two cores).
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from photod.vlm.llava import place_placeholders
from photod_lab.toyworld.asked import (
    AskedObjectProbe,
    asked_labels,
    captured_lm_states,
    image_positions,
)
from photod_lab.toyworld.concepts import base_scene_generator
from photod_lab.toyworld.dense import PROBE_POINTS, DenseProbe, captured_patch_tokens, patch_labels
from photod_lab.toyworld.fixture import load_vlm, read_manifest, save_fixture
from photod_lab.toyworld.grounding import (
    add_grounding_tokens,
    grounding_accuracy,
    name_absent,
    pick_grounds,
)
from photod_lab.toyworld.metrics import (
    caption_exact_match,
    heldout_scenes,
    prompt_text,
    vqa_accuracy,
)
from photod_lab.toyworld.models import (
    TOY_LLAVA_CHAT_TEMPLATE,
    TinySize,
    build_blip2,
    build_llava,
    count_parameters,
    deepen_language_model,
)
from photod_lab.toyworld.naming import Naming, NamingAid, named_pick, pick_namings
from photod_lab.toyworld.scenes import Scene, SceneGenerator

log = logging.getLogger(__name__)
SCRIPT_VERSION = "1"


def pick_targets(
    kind: str, scenes: list[Scene], rng: np.random.Generator, vqa_share: float
) -> list[tuple[str | None, str]]:
    """For each scene of a batch: a (question, answer) pair drawn from its QA (LLaVA, with
    probability ``vqa_share``), or (None, its caption)."""
    picks: list[tuple[str | None, str]] = []
    for s in scenes:
        if kind == "llava" and rng.random() < vqa_share:
            picks.append(s.qa[int(rng.integers(len(s.qa)))])
        else:
            picks.append((None, s.caption()))
    return picks


def make_batch(
    kind: str,
    images: list,
    processor,
    picks: list[tuple[str | None, str]],
    appended: Sequence[int] | None = None,
) -> dict[str, torch.Tensor]:
    """Tokenise a training batch exactly as inference will (processor prefix + target);
    ``appended[i]`` more image placeholders for sample ``i``'s appended tokens (LLaVA)."""
    tok = processor.tokenizer
    prompts = [prompt_text(processor, kind, question) for question, _ in picks]
    targets = [target for _, target in picks]
    enc = processor(images=images, text=prompts, return_tensors="pt", padding=True)
    extra = appended or [0] * len(picks)
    image_id = tok.convert_tokens_to_ids("<image>")  # the toy tokenizer's placeholder
    rows, labels = [], []
    for ids, mask, target, k in zip(
        enc["input_ids"], enc["attention_mask"], targets, extra, strict=False
    ):
        prefix = place_placeholders(ids[mask.bool()].tolist(), image_id, k)
        tgt = tok(target, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        rows.append(prefix + tgt)
        labels.append([-100] * len(prefix) + tgt)
    width = max(len(r) for r in rows)
    pad = tok.pad_token_id
    input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    lab = torch.tensor([r + [-100] * (width - len(r)) for r in labels])
    attn = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    return {
        "input_ids": input_ids,
        "attention_mask": attn,
        "labels": lab,
        "pixel_values": enc["pixel_values"],
    }


def sequence_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy averaged per sequence, then over the batch.

    The default token average lets a 12-token caption outweigh a one-word answer twelve to
    one, so the answers (a tenth of the supervised tokens) were learnt far slower than the
    captions; averaging per sequence gives each sample the same weight.
    """
    labels = batch["labels"]
    logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    logits, target = logits[:, :-1], labels[:, 1:]
    tok = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none"
    ).view_as(target)
    mask = (target != -100).float()
    return ((tok * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()


class RollingPool:
    """Recent scenes with their images; ``fresh`` new scenes replace the oldest each step."""

    def __init__(self, gen: SceneGenerator, size: int) -> None:
        self.gen = gen
        self.scenes = gen.batch(size)
        self.images = [s.image() for s in self.scenes]
        self.next = 0

    def refresh(self, fresh: int, max_objects: int) -> None:
        """Render ``fresh`` new scenes (with at most ``max_objects`` objects)."""
        for _ in range(fresh):
            s = self.gen.sample(int(self.gen.rng.integers(1, max_objects + 1)))
            self.scenes[self.next] = s
            self.images[self.next] = s.image()
            self.next = (self.next + 1) % len(self.scenes)

    def sample(self, rng: np.random.Generator, n: int) -> tuple[list[Scene], list]:
        """A random batch from the pool."""
        idx = rng.integers(0, len(self.scenes), size=n)
        return [self.scenes[i] for i in idx], [self.images[i] for i in idx]


def lr_at(step: int, progress: float, peak: float, warmup: int) -> float:
    """Linear warm-up then cosine decay to 2% of the peak.

    ``progress`` in [0, 1] is the larger of the step and wall-time fractions: on a shared
    CPU the step rate varies, and a run cut by its time budget must still end at a low LR.
    """
    if step < warmup:
        return peak * (step + 1) / warmup
    t = min(1.0, progress)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))


def evaluate(
    kind: str,
    model,
    processor,
    scenes: list[Scene],
    naming: NamingAid | None = None,
    three_named: bool = False,
    grounding: bool = False,
) -> dict[str, float]:
    """Caption exact match (and VQA accuracy for LLaVA) on ``scenes``; with ``naming``, also
    captions that name objects from appended tokens (with ``three_named``, also captions of
    three-object scenes with all three named); with ``grounding``, "locate the X ?" answers."""
    metrics = {"caption_exact_match": caption_exact_match(model, processor, scenes)}
    if kind == "llava":
        metrics["vqa_accuracy"] = vqa_accuracy(model, processor, scenes[: len(scenes) // 2])
    if naming is not None:
        metrics["named_caption_exact_match"] = naming.caption_exact_match(scenes)
        if three_named:
            metrics["three_named_caption_exact_match"] = naming.caption_exact_match(
                scenes, three=True
            )
    if grounding:
        metrics["grounding_accuracy"] = grounding_accuracy(
            model, processor, scenes[: len(scenes) // 2]
        )
    model.train()
    return metrics


def dev_score(metrics: dict[str, float]) -> float:
    """The number checkpoints compete on: the mean of the dev metrics."""
    return sum(metrics.values()) / len(metrics)


def lineage(manifest: dict) -> list[dict]:
    """The runs that led to a saved model, oldest first: each with its arguments, last step
    and minutes. The list is flat: a run's arguments do not repeat the runs before it."""
    args = dict(manifest.get("train_args", {}))
    earlier = args.pop("previous_runs", [])
    # Manifests written before this function nested each run's lineage in its arguments.
    flat = [
        {**run, "train_args": {k: v for k, v in run["train_args"].items() if k != "previous_runs"}}
        for run in earlier
    ]
    return [
        *flat,
        {"train_args": args, "step": manifest.get("step"), "minutes": manifest.get("minutes")},
    ]


def _checkpoint(
    args,
    model,
    processor,
    size: TinySize,
    dev_scenes: list[Scene],
    step: int,
    elapsed: float,
    history: list[dict],
    best: float,
    naming: NamingAid | None,
    force: bool = False,
) -> float:
    """Evaluate on the dev scenes; save the fixture when the score is the best so far (or,
    with ``force``, anyway)."""
    m = evaluate(
        args.model,
        model,
        processor,
        dev_scenes,
        naming,
        args.name_three_share > 0,
        args.ground_share > 0,
    )
    score = dev_score(m)
    history.append({"step": step, "minutes": round(elapsed, 2), **m})
    log.info("eval step %d: %s", step, m)
    if score <= best and not force:
        return best
    save_fixture(
        model,
        processor,
        Path(args.out),
        {
            "script_version": SCRIPT_VERSION,
            "kind": args.model,
            "train_args": vars(args),
            "size": size.to_dict(),
            "step": step,
            "minutes": round(elapsed, 2),
            "dev_metrics": m,
            "history": history,
            "parameters": count_parameters(model),
        },
    )
    if naming is not None:
        naming.save_codes(Path(args.out))
    return score


def train(args: argparse.Namespace) -> dict:
    """Run training; saves the best checkpoint (by held-out score) to ``args.out``."""
    torch.set_num_threads(args.threads)
    size = TinySize(
        num_query_tokens=args.queries,
        lm_layers=args.lm_layers,
        lm_width=args.lm_width,
        vision_layers=args.vision_layers,
        vision_width=args.vision_width,
    )
    build = build_blip2 if args.model == "blip2" else build_llava
    previous: dict = {}
    if args.init_from:
        # Continue a run: new data seed, fresh warm-up/cosine, keep only what beats it.
        model, processor = load_vlm(args.init_from)
        previous = read_manifest(Path(args.init_from))
        size = TinySize(**previous["size"])
        if args.model == "llava":
            # Always train in the current prompt format (older fixtures had none).
            processor.chat_template = TOY_LLAVA_CHAT_TEMPLATE
        if args.lm_layers > size.lm_layers:
            size = TinySize(**{**previous["size"], "lm_layers": args.lm_layers})
            model = deepen_language_model(model, size, seed=args.seed)
            log.info("language model deepened to %d layers", size.lm_layers)
        if args.ground_share:
            # Coordinates are new words (see photod_lab.toyworld.grounding).
            log.info("%d grounding tokens added", add_grounding_tokens(model, processor))
    else:
        model, processor = build(size, seed=args.seed)
    device = torch.device(args.device)
    model.to(device)
    log.info("%s: %d parameters, on %s", args.model, count_parameters(model), device)
    rng = np.random.default_rng(args.seed)
    pool = RollingPool(base_scene_generator(args.seed, image_size=size.image_size), args.pool)
    dev_scenes = heldout_scenes(args.dev, size.image_size, seed=args.dev_seed)
    # The dense probe trains with the model and is discarded (see photod_lab.toyworld.dense).
    probe_width = size.lm_width if args.probe_on == "projector" else size.vision_width
    probe = DenseProbe(probe_width, args.probe_norm) if args.dense_weight else None
    # The asked-object probe marks, in the LM, the patches of the object a question names
    # (see photod_lab.toyworld.asked); like the dense probe it is discarded after training.
    if args.asked_weight and args.model != "llava":
        raise SystemExit("--asked-weight needs --model llava (BLIP-2 is trained on captions only)")
    asked = AskedObjectProbe(size.lm_width) if args.asked_weight else None
    image_token_id = getattr(model.config, "image_token_id", None)
    # Names from tokens appended to the image, as photod appends concept tokens (see
    # photod_lab.toyworld.naming).
    naming = (
        NamingAid(model, processor, size.image_size, size.patch_size) if args.name_share else None
    )
    if naming is not None and args.init_from and naming.load_codes(Path(args.init_from)):
        log.info("name codes continued from %s", args.init_from)
    if args.codes_warmup and (naming is None or naming.codes is None):
        raise SystemExit("--codes-warmup needs --model blip2 and --name-share (learnt codes)")
    aids = [m.to(device) for m in (probe, asked) if m is not None]
    params = list(model.parameters()) + [p for aid in aids for p in aid.parameters()]
    params += naming.parameters() if naming else []
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    start, best, history = time.monotonic(), -1.0, list(previous.get("history", []))
    if previous:
        # The bar to beat is the starting model on *this* dev set (the data may have changed).
        start_metrics = evaluate(
            args.model,
            model,
            processor,
            dev_scenes,
            naming,
            args.name_three_share > 0,
            args.ground_share > 0,
        )
        log.info("starting point: %s", start_metrics)
        best = dev_score(start_metrics)
        args.previous_runs = lineage(previous)
    model.train()
    # Fresh name codes on a model that learnt to read other ones: while they settle, only
    # they learn, or the model would unlearn naming to fit random codes (see
    # photod_lab.toyworld.naming).
    model.requires_grad_(not args.codes_warmup)
    for step in range(args.steps):
        if step == args.codes_warmup and args.codes_warmup:
            model.requires_grad_(True)
            log.info("name codes settled: the model trains from step %d", step)
        elapsed = (time.monotonic() - start) / 60
        if elapsed > args.minutes:
            log.info("time budget reached at step %d", step)
            break
        # Progress by steps or by time, whichever is further: the step count is a ceiling
        # and the wall-time budget usually ends the run first.
        progress = max(step / args.steps, elapsed / args.minutes)
        max_objects = 2 if progress < args.curriculum else 3
        pool.refresh(args.fresh, max_objects)
        scenes, images = pool.sample(rng, args.batch)
        picks = pick_targets(args.model, scenes, rng, args.vqa_share)
        grounds = pick_grounds(scenes, rng, args.ground_share, args.ground_absent)
        picks = [
            p if g is None else (g.question, g.answer) for p, g in zip(picks, grounds, strict=True)
        ]
        # An absent object asked about by name is no object of the scene: no asked-object mark.
        asked_questions = [
            None if g is not None and g.absent is not None else q
            for (q, _), g in zip(picks, grounds, strict=True)
        ]
        named_scenes = scenes
        if naming is not None:
            namings = pick_namings(
                scenes, rng, args.name_share, args.name_two_share, args.name_three_share
            )
            pairs = [
                name_absent(s, n, g, rng) for s, n, g in zip(scenes, namings, grounds, strict=True)
            ]
            named_scenes, namings = [p[0] for p in pairs], [p[1] for p in pairs]
            appended = naming.tokens(named_scenes, namings, rng)
            extra = naming.placeholders(namings)
        else:
            namings, appended, extra = [Naming()] * len(scenes), [], None
        named = [named_pick(s, n, p) for s, n, p in zip(named_scenes, namings, picks, strict=True)]
        batch = make_batch(args.model, images, processor, named, extra)
        batch = {k: v.to(device) for k, v in batch.items()}
        for g in opt.param_groups:
            # The model's warm-up starts once the codes have settled.
            g["lr"] = (
                args.codes_lr
                if step < args.codes_warmup
                else lr_at(step - args.codes_warmup, progress, args.lr, args.warmup)
            )
        probing = captured_patch_tokens(model, args.probe_on) if probe is not None else None
        marking = captured_lm_states(model, args.asked_layer) if asked is not None else None
        appending = naming.injection(appended) if any(appended) else nullcontext()
        with probing or nullcontext([]) as tokens, marking or nullcontext([]) as states, appending:
            loss = sequence_loss(model, batch) if args.per_sample else model(**batch).loss
        dense, marked = torch.zeros(()), torch.zeros(())
        # A fresh probe's first gradients are large and random: while the probes warm up
        # they read the model without training it (matters when continuing a trained one).
        warming = step < args.probe_warmup
        if asked is not None:
            # Marks come from the shape a question names, before a naming renames it.
            marks = asked_labels(scenes, asked_questions, size.image_size, size.patch_size)
            image_states = image_positions(
                states[0], batch["input_ids"], image_token_id, size.patches
            )
            marked = asked.loss(image_states.detach() if warming else image_states, marks)
        if probe is not None:
            labels = patch_labels(scenes, size.image_size, size.patch_size)
            patches = tokens[0].detach() if warming else tokens[0]
            dense = probe.loss(patches, labels)
        opt.zero_grad()
        (loss + args.dense_weight * dense + args.asked_weight * marked).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 50 == 0:
            log.info(
                "step %d loss %.4f dense %.4f asked %.4f lr %.2e %.1f min",
                step,
                loss.item(),
                dense.item(),
                marked.item(),
                opt.param_groups[0]["lr"],
                elapsed,
            )
        if (step + 1) % args.eval_every == 0:
            best = _checkpoint(
                args, model, processor, size, dev_scenes, step + 1, elapsed, history, best, naming
            )
    # The final weights are the ones at the lowest LR: always evaluate them.
    elapsed = (time.monotonic() - start) / 60
    best = _checkpoint(
        args,
        model,
        processor,
        size,
        dev_scenes,
        step + 1,
        elapsed,
        history,
        best,
        naming,
        force=args.save_last,
    )
    return {"best": best, "history": history}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (defaults are the ones the shipped fixtures used)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("blip2", "llava"), required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--minutes", type=float, default=35.0)
    p.add_argument("--batch", type=int, default=48)
    p.add_argument("--fresh", type=int, default=12)
    p.add_argument("--pool", type=int, default=4096)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument(
        "--curriculum",
        type=float,
        default=0.1,
        help="share of the run (steps or time) with at most two objects per scene",
    )
    p.add_argument("--vqa-share", type=float, default=0.4)
    p.add_argument(
        "--per-sample",
        action="store_true",
        help="average the loss per sequence (answers weigh as much as captions)",
    )
    p.add_argument(
        "--dense-weight",
        type=float,
        default=1.0,
        help="weight of the dense patch-label loss on the vision tower (0: captions only)",
    )
    p.add_argument(
        "--probe-warmup",
        type=int,
        default=0,
        help="steps during which the probes train without back-propagating into the model",
    )
    p.add_argument(
        "--probe-on",
        choices=PROBE_POINTS,
        default="tower",
        help="where the dense probe reads: the vision tower, or LLaVA's projector (the LM's input)",
    )
    p.add_argument(
        "--probe-norm",
        action="store_true",
        help="the probe reads RMS-normalised tokens through unit-norm weights, so labels must "
        "be a large part of each token (see DenseProbe)",
    )
    p.add_argument(
        "--asked-weight",
        type=float,
        default=0.0,
        help="weight of the LLaVA training aid that marks the asked-about object's patches "
        "in the LM (0: off; see photod_lab.toyworld.asked)",
    )
    p.add_argument(
        "--asked-layer",
        type=int,
        default=1,
        help="the LM layer whose image states must mark the asked-about object",
    )
    p.add_argument(
        "--name-share",
        type=float,
        default=0.0,
        help="share of samples where objects are named by tokens appended to the image, as "
        "photod appends concept tokens (0: off; see photod_lab.toyworld.naming)",
    )
    p.add_argument(
        "--name-two-share",
        type=float,
        default=0.3,
        help="share of named samples that name two objects (when the scene has two)",
    )
    p.add_argument(
        "--name-three-share",
        type=float,
        default=0.0,
        help="share of named samples that name three objects (when the scene has three): "
        "photos with three of the user's concepts",
    )
    p.add_argument(
        "--codes-warmup",
        type=int,
        default=0,
        help="BLIP-2 continuation with fresh name codes: steps during which the model is "
        "frozen and the codes (with the discarded probes) learn at --codes-lr",
    )
    p.add_argument("--codes-lr", type=float, default=1e-2, help="LR of the codes' warm-up")
    p.add_argument(
        "--ground-share",
        type=float,
        default=0.0,
        help="share of LLaVA samples asking 'locate the X ?', answered with the object's box "
        "(0: off; adds the coordinate tokens; see photod_lab.toyworld.grounding)",
    )
    p.add_argument(
        "--ground-absent",
        type=float,
        default=0.2,
        help="share of grounding samples about something not in the photo (answer: none)",
    )
    p.add_argument(
        "--save-last",
        action="store_true",
        help="save the final weights even when an earlier checkpoint scored better (a new "
        "skill the dev score does not weigh enough, e.g. grounding)",
    )
    p.add_argument("--device", default="cpu", help="torch device to train on (cpu, cuda)")
    p.add_argument("--queries", type=int, default=32)
    p.add_argument("--lm-layers", type=int, default=2)
    p.add_argument("--lm-width", type=int, default=128)
    p.add_argument("--vision-layers", type=int, default=2)
    p.add_argument("--vision-width", type=int, default=96)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--dev", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--dev-seed", type=int, default=7920, help="seed of the dev scenes")
    p.add_argument(
        "--init-from",
        default=None,
        help="continue from this model directory (a larger --lm-layers deepens its LM)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m photod_lab.toyworld.train``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    train(parse_args(argv))


if __name__ == "__main__":
    main()
