"""Concept training entry point for ``photod concept train``: one embedding per VLM.

The concept store calls :func:`train_concept_embedding` with the same training images its
head used (no train/validation leakage, reference defect 4) and the new version's folder;
each configured VLM gets its embedding in ``<version folder>/vlm/<vlm id>.safetensors``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from photod.vlm.embeddings import save_embedding
from photod.vlm.runtime import VlmRuntime
from photod.vlm.targets import (
    OBJECT_QUESTIONS,
    PERSON_QUESTIONS,
    Target,
    generate_targets,
    with_mirrors,
)
from photod.vlm.training import TrainExample, train_embedding

log = logging.getLogger(__name__)


def default_class_phrase(class_word: str) -> str:
    """How the base VLM is asked about the concept: ``the dog``."""
    return class_word if class_word.split()[0] in ("a", "an", "the") else f"the {class_word}"


def train_concept_embedding(
    runtime: VlmRuntime,
    *,
    identifier: str,
    class_word: str,
    kind: str,
    class_phrase: str | None = None,
    images: Sequence[Image.Image],
    version_dir: Path,
    fired: Sequence[bool] | None = None,
    targets: Mapping[int, Sequence[Target]] | None = None,
    vlm_ids: Sequence[str] | None = None,
    progress: bool = True,
    distractors: Mapping[str, Sequence[torch.Tensor]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Train and save the concept's embedding for each VLM; returns their metadata by id.

    ``fired[i]``: whether the concept's head recognises image ``i`` (default all; images
    where it does not fire train without the token). ``targets[i]`` overrides the generated
    targets of image ``i`` with the user's own ``(question or None, text)`` pairs.
    ``class_phrase``: how the base VLM names the concept (default ``the <class word>``).
    ``distractors[vlm id]``: the other concepts' embeddings on that VLM (see
    ``training.distractor_share``).
    """
    if not images:
        raise ValueError(f"{identifier}: no training images")
    fired = list(fired) if fired is not None else [True] * len(images)
    phrase = class_phrase or default_class_phrase(class_word)
    out: dict[str, dict[str, Any]] = {}
    for vlm_id in vlm_ids or runtime.model_ids:
        with runtime.use(vlm_id) as session:  # not unloaded as idle while it trains
            out[vlm_id] = _train_one(
                session,
                runtime,
                vlm_id,
                identifier=identifier,
                class_word=class_word,
                phrase=phrase,
                kind=kind,
                images=images,
                version_dir=version_dir,
                fired=fired,
                targets=targets,
                progress=progress,
                distractors=(distractors or {}).get(vlm_id, ()),
            )
    return out


def _train_one(
    session,
    runtime: VlmRuntime,
    vlm_id: str,
    *,
    identifier: str,
    class_word: str,
    phrase: str,
    kind: str,
    images: Sequence[Image.Image],
    version_dir: Path,
    fired: list[bool],
    targets: Mapping[int, Sequence[Target]] | None,
    progress: bool,
    distractors: Sequence[torch.Tensor],
) -> dict[str, Any]:
    """Train and save the embedding of one VLM; returns its metadata."""
    settings = runtime.training_settings(vlm_id)
    pool = PERSON_QUESTIONS if kind == "person" else OBJECT_QUESTIONS
    use_vqa = runtime.model_config(vlm_id).training.vqa and session.family != "blip2"
    per_image = generate_targets(
        session,
        images,
        identifier,
        phrase,
        class_word,
        questions=pool if use_vqa else (),
        overrides=targets,
        beams=settings.caption_beams,
    )
    examples = _with_targets(
        with_mirrors(
            session,
            [TrainExample(im, t, f) for im, t, f in zip(images, per_image, fired, strict=True)],
            identifier,
            phrase,
            class_word,
            settings.mirrors,
            settings.caption_beams,
        ),
        identifier,
    )
    # Checkpoints go to the cache: a version folder holds only finished artifacts.
    ckpt = (
        Path(runtime.cache_dir) / "vlm-checkpoints" / f"{identifier}-{vlm_id}"
        if runtime.cache_dir
        else None
    )
    trained = train_embedding(
        session,
        examples,
        identifier,
        settings,
        checkpoint_dir=ckpt,
        progress=progress,
        distractors=distractors,
    )
    meta = {
        **trained.meta,
        "targets": per_image,
        "mirror_targets": [ex.targets for ex in examples if ex.derived],
    }
    save_embedding(version_dir, vlm_id, trained.vector, meta)
    return meta


def _with_targets(examples: list[TrainExample], identifier: str) -> list[TrainExample]:
    """The examples that have a target: a photo whose captions never name the concept (the
    base model took it for something else) trains nothing. When no photo has one, each
    photo's target is the identifier alone, the one thing every target says."""
    kept = [ex for ex in examples if ex.targets]
    if len(kept) < len(examples):
        log.warning(
            "%s: the base model named the concept in no caption of %d of %d training images",
            identifier,
            len(examples) - len(kept),
            len(examples),
        )
    if kept:
        return kept
    return [TrainExample(ex.image, [(None, identifier)], ex.fired) for ex in examples]
