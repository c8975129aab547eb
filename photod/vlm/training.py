"""Learning one concept embedding for one VLM (MyVLM's "Communicate" training).

Only the embedding trains; the VLM is frozen, so the frozen features before the hook point
are computed once per augmented view and reused every step. Each step takes every example
(batch = the examples), one cached view and one target each; an example whose head did not
fire trains without the token (per-image gating, reference defect 2).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from tqdm.auto import tqdm

from photod.config import VlmTrainingConfig
from photod.vlm.augment import augmented_views
from photod.vlm.base import VlmSession
from photod.vlm.injection import normalise
from photod.vlm.look import shared_look

log = logging.getLogger(__name__)


@dataclass
class TrainExample:
    """One training image, its targets (question or None for a caption, text) and whether
    the concept's head fired on it."""

    image: Image.Image
    targets: list[tuple[str | None, str]]
    fired: bool = True
    #: Made from another example (a mirror image): no photo of its own.
    derived: bool = False


@dataclass
class TrainedEmbedding:
    """The result: the normalised vector and what produced it."""

    vector: torch.Tensor  # (tokens, D), float32, CPU, rows L2-normalised
    meta: dict = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)


def _cache_features(
    session: VlmSession, examples: Sequence[TrainExample], settings: VlmTrainingConfig
) -> list[torch.Tensor]:
    """Frozen features per example, shape ``(views, ...)``."""
    out = []
    with torch.no_grad():
        for i, ex in enumerate(examples):
            views = augmented_views(
                ex.image,
                settings.views if settings.augment else 1,
                seed=settings.seed * 1000 + i,
                flip_p=settings.flip_p,
                brightness=settings.brightness,
                rotation=settings.rotation,
            )
            feats = [
                session.frozen_features(session.pixel_values(views[j : j + 16]))
                for j in range(0, len(views), 16)
            ]
            out.append(torch.cat(feats))
    return out


def train_embedding(
    session: VlmSession,
    examples: Sequence[TrainExample],
    identifier: str,
    settings: VlmTrainingConfig | None = None,
    *,
    checkpoint_dir: Path | None = None,
    progress: bool = True,
    distractors: Sequence[torch.Tensor] = (),
) -> TrainedEmbedding:
    """Train the embedding of the concept named ``identifier`` on ``examples``.

    Deterministic for a given seed. Writes ``step_NNNN.safetensors`` checkpoints into
    ``checkpoint_dir`` when given. Loss = LM cross-entropy + lambda * attention regulariser.
    ``distractors``: other concepts' embeddings on this VLM, ``(n, D)`` each, that
    ``settings.distractor_share`` of the fired examples carry beside this one's.
    """
    settings = settings or VlmTrainingConfig()
    if not examples or not any(ex.targets for ex in examples):
        raise ValueError("training a concept embedding needs examples with targets")
    # None without a share: the step's random draws then stay those of training alone.
    frozen = [
        d.detach().reshape(-1, session.concept_dim).to(session.device)
        for d in (distractors if settings.distractor_share > 0 else ())
    ]
    with session.lock:  # the daemon's captions wait for the training, not the reverse
        return _train(session, examples, identifier, settings, checkpoint_dir, progress, frozen)


def _train(
    session: VlmSession,
    examples: Sequence[TrainExample],
    identifier: str,
    settings: VlmTrainingConfig,
    checkpoint_dir: Path | None,
    progress: bool,
    distractors: Sequence[torch.Tensor],
) -> TrainedEmbedding:
    # These shape how the token enters the model: they are session settings, so that
    # captioning later uses the embedding exactly as it was trained.
    session.settings.kv_norm_match = settings.kv_norm_match
    session.settings.concept_scale = settings.concept_scale
    session.settings.concept_attention = settings.concept_attention
    lam_cap = (
        settings.reg_lambda if settings.reg_lambda is not None else session.default_reg_lambda[0]
    )
    lam_vqa = (
        settings.reg_lambda_vqa
        if settings.reg_lambda_vqa is not None
        else session.default_reg_lambda[1]
    )
    start = time.perf_counter()
    cached = _cache_features(session, examples, settings)
    cache_s = time.perf_counter() - start
    rng = random.Random(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    init = torch.rand(settings.tokens, session.concept_dim, generator=gen)
    init = torch.stack([normalise(row) for row in init]) * settings.init_scale
    param = torch.nn.Parameter(init.to(session.device))
    anchor, look_photos = _look_anchor(session, examples, cached, settings)
    opt = torch.optim.AdamW([param], lr=settings.learning_rate, weight_decay=settings.weight_decay)
    losses: list[float] = []
    with_reg = lam_cap > 0 or lam_vqa > 0
    bar = tqdm(
        range(settings.steps),
        desc=f"concept {identifier} ({session.model_id})",
        disable=not progress,
        leave=False,
    )
    for step in bar:
        tokens = _tokens(param, anchor)
        feats, concepts, prompts, targets, lams = [], [], [], [], []
        for ex, views in zip(examples, cached, strict=True):
            # Sampling copies nothing into the example: no shared list drifts (defect 1).
            question, target = ex.targets[rng.randrange(len(ex.targets))]
            feats.append(views[rng.randrange(views.shape[0])])
            concepts.append(_appended(tokens, ex.fired, distractors, settings, rng))
            prompts.append(session.prompt_text(question, [identifier] if ex.fired else []))
            targets.append(target)
            lams.append((lam_cap if question is None else lam_vqa) if ex.fired else 0.0)
        lm_loss, reg = session.training_loss(
            torch.stack(feats), concepts, prompts, targets, with_reg
        )
        weights = torch.tensor(lams, device=reg.device, dtype=reg.dtype)
        loss = lm_loss + (weights * reg).sum() / max(1, sum(ex.fired for ex in examples))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([param], settings.grad_clip)
        opt.step()
        losses.append(float(lm_loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if (
            checkpoint_dir
            and settings.checkpoint_every
            and ((step + 1) % settings.checkpoint_every == 0)
        ):
            _checkpoint(checkpoint_dir, step + 1, param, anchor)
    vector = torch.stack([normalise(row) for row in _tokens(param, anchor).detach()]).cpu()
    meta = {
        "vlm_id": session.model_id,
        "family": session.family,
        "identifier": identifier,
        "dim": session.concept_dim,
        "tokens": settings.tokens,
        "distractors": len(distractors),
        "look_photos": look_photos,  # photos the fixed look came from (0: none)
        "examples": len(examples),
        "settings": settings.model_dump(exclude={"vqa"}),
        "kv_norm_match": session.settings.kv_norm_match,
        "concept_scale": session.settings.concept_scale,
        "concept_attention": session.settings.concept_attention,
        "final_loss": losses[-1] if losses else None,
        "seconds": round(time.perf_counter() - start, 3),
        "cache_seconds": round(cache_s, 3),
    }
    log.info(
        "trained concept %s for %s in %.1f s (loss %.4f)",
        identifier,
        session.model_id,
        meta["seconds"],
        meta["final_loss"] or 0.0,
    )
    return TrainedEmbedding(vector, meta, losses)


def _look_anchor(
    session: VlmSession,
    examples: Sequence[TrainExample],
    cached: Sequence[torch.Tensor],
    settings: VlmTrainingConfig,
) -> tuple[torch.Tensor | None, int]:
    """The unit-norm look the tokens are anchored on (``settings.look``), and how many
    photos it came from; None and 0 when there is none to use."""
    if settings.look == "none":
        return None, 0
    # View 0 of each example is the photo itself, unaugmented. With a single photo, its
    # mirror images stand in for other photos (toy BLIP-2, 1 image: recall 82.1% without
    # a look, 90.4% with this one; 5 splits).
    fired = [
        (ex.derived, session.image_patches(views[0]))
        for ex, views in zip(examples, cached, strict=True)
        if ex.fired
    ]
    photos = [p for derived, p in fired if not derived]
    if len(photos) < 2:
        photos = [p for _, p in fired]
    look = shared_look(photos)
    if look is None:
        return None, 0
    return normalise(look).to(session.device), len(photos)


def _tokens(param: torch.Tensor, anchor: torch.Tensor | None) -> torch.Tensor:
    """The concept's tokens: the parameter's rows, or the fixed look plus each row at unit
    norm (the injection sets the final norm either way)."""
    if anchor is None:
        return param
    return anchor + torch.nn.functional.normalize(param, dim=-1)


def _appended(
    tokens: torch.Tensor,
    fired: bool,
    distractors: Sequence[torch.Tensor],
    settings: VlmTrainingConfig,
    rng: random.Random,
) -> list[torch.Tensor]:
    """The tokens one example carries this step: none where the head did not fire; the
    concept's own, and with ``distractor_share`` one other concept's before or after."""
    if not fired:
        return []
    own = list(tokens)
    if not distractors or rng.random() >= settings.distractor_share:
        return own
    other = list(distractors[rng.randrange(len(distractors))])
    return own + other if rng.random() < 0.5 else other + own


def _checkpoint(folder: Path, step: int, param: torch.Tensor, anchor: torch.Tensor | None) -> None:
    """The learnt parameter, and the fixed look it is added to (if any): together they give
    the tokens (:func:`_tokens`)."""
    from safetensors.torch import save_file

    tensors = {"embedding": param.detach().cpu().contiguous()}
    if anchor is not None:
        tensors["look"] = anchor.detach().cpu().contiguous()
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / f"step_{step:04d}.safetensors"))
