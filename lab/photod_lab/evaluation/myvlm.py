"""MyVLM as a :class:`~photod_lab.evaluation.protocol.Personalizer`: photod's own path.

``photod eval DATA --model toy-blip2 --personalizer myvlm`` trains each concept with the
product's :func:`~photod.vlm.concept_training.train_concept_embedding` (what ``photod concept
train`` runs: the same targets, mirror images, distractors and embedding file) and captions
with :meth:`~photod.vlm.runtime.VlmRuntime.describe` (what the daemon runs). The settings are
the model's ``vlm.models[]`` entry: the fixture's ``photod.yaml``
(:func:`photod_lab.toyworld.fixture.model_config`). An ablation is an override of its
``training:`` settings (:data:`VARIANTS`), e.g. ``--personalizer no_kv_norm``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from photod.concepts.catalog import FiredConcept
from photod.config import VlmConfig, VlmModelConfig, VlmTrainingConfig
from photod.vlm.base import VlmSession
from photod.vlm.concept_training import train_concept_embedding
from photod.vlm.embeddings import load_embedding
from photod.vlm.registry import photod_vlm_backends
from photod.vlm.runtime import VlmRuntime
from photod_lab.evaluation.protocol import ConceptInfo
from photod_lab.toyworld.fixture import model_config

#: The ablations: each a change of the model's ``training:`` settings ({}: as configured).
VARIANTS: dict[str, dict[str, Any]] = {
    "myvlm": {},
    "no_kv_norm": {"kv_norm_match": False},  # BLIP-2 without key/value norm matching
    "kv_norm_1x": {"kv_norm_match": True, "concept_scale": 1.0},  # matching as published
    "no_regulariser": {"reg_lambda": 0.0, "reg_lambda_vqa": 0.0},
    "no_distractors": {"distractor_share": 0.0},  # each embedding trained alone (MyVLM)
    "joint_attention": {"concept_attention": "joint"},  # one softmax, as published
    "one_token": {"tokens": 1},
    "as_published": {"tokens": 1, "concept_scale": 1.0},
}
#: The reference's hyperparameters unchanged: the config model's defaults.
REFERENCE = "reference"
#: Settings of the evaluation itself: toy captions are short; every photo gets a caption.
EVAL_VLM = {"max_new_tokens": 24, "batch_size": 32, "plain_captions": True, "questions": []}


def variant_entry(entry: VlmModelConfig, variant: str) -> VlmModelConfig:
    """``entry`` with the ``training:`` settings of ``variant`` (validated again)."""
    if variant == REFERENCE:
        training = VlmTrainingConfig(vqa=entry.training.vqa)
    elif variant in VARIANTS:
        training = VlmTrainingConfig(**{**entry.training.model_dump(), **VARIANTS[variant]})
    else:
        raise KeyError(f"unknown variant {variant!r} ({', '.join([*VARIANTS, REFERENCE])})")
    return entry.model_copy(update={"training": training})


class MyVLMPersonalizer:
    """Learns one concept embedding per concept through photod's concept training; captions
    through the runtime's ``describe`` with the fired concepts' embeddings."""

    def __init__(
        self,
        model_dir: str | Path,
        *,
        variant: str = "myvlm",
        overrides: dict[str, Any] | None = None,
        name: str | None = None,
        progress: bool = False,
    ) -> None:
        model_dir = Path(model_dir)
        entry = variant_entry(model_config(model_dir), variant)
        if overrides:
            training = {**entry.training.model_dump(), **overrides}
            entry = entry.model_copy(update={"training": VlmTrainingConfig(**training)})
        self.entry = entry
        self.runtime = VlmRuntime(
            VlmConfig(models=[entry], **EVAL_VLM), photod_vlm_backends(), cache_dir=None
        )
        self.progress = progress
        self.name = name or f"{variant}:{model_dir.name}"
        self.seconds: list[float] = []
        # Version folders of the trained concepts: the embedding files photod writes.
        self._work = tempfile.TemporaryDirectory(prefix="photod-eval-")
        self._trained = 0
        # The latest embedding of each concept trained here: the distractors of the next
        # concept's training, as the daemon uses the other concepts' active versions.
        self.latest: dict[str, torch.Tensor] = {}

    @property
    def session(self) -> VlmSession:
        """The loaded model (loaded on first use)."""
        return self.runtime.session(self.entry.id)

    def train(
        self, concept: ConceptInfo, images: Sequence[Image.Image], targets: Sequence[Sequence[str]]
    ) -> FiredConcept:
        """Train and save the concept's embedding as ``photod concept train`` does, on the
        given caption targets (an image without any: base-model generated ones); returns the
        concept as the runtime sees it when its head fires."""
        self._trained += 1
        version_dir = Path(self._work.name) / f"{concept.key}-{self._trained}"
        others = [v for k, v in self.latest.items() if k != concept.identifier]
        train_concept_embedding(
            self.runtime,
            identifier=concept.identifier,
            class_word=concept.class_word,
            class_phrase=concept.class_phrase,
            kind=concept.kind,
            images=images,
            version_dir=version_dir,
            targets={i: [(None, t) for t in ts] for i, ts in enumerate(targets) if ts},
            progress=self.progress,
            distractors={self.entry.id: others},
        )
        vector, meta = load_embedding(version_dir, self.entry.id)
        self.seconds.append(meta["seconds"])
        self.latest[concept.identifier] = vector
        return FiredConcept(self._trained, concept.key, concept.identifier, 1, vector)

    def caption(
        self, images: Sequence[Image.Image], fired: Sequence[Sequence[FiredConcept]]
    ) -> list[str]:
        """Captions with each image's fired concepts appended (none: the plain model)."""
        return [
            self.runtime.describe(self.entry.id, image, list(f), questions=()).caption or ""
            for image, f in zip(images, fired, strict=True)
        ]
