"""The base VLM as a :class:`~photod_lab.evaluation.protocol.Personalizer`.

It learns nothing and ignores fired concepts: its recall is the floor (about 0) that a real
personalization method must beat, and its captions are what "exact preservation" on photos
without concepts is compared against.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from photod_lab.evaluation.protocol import ConceptInfo
from photod_lab.toyworld.metrics import generate_texts, model_kind, prompt_text

log = logging.getLogger(__name__)


def greedy_captions(
    model,
    processor,
    images: Sequence[Image.Image],
    prompt: str,
    batch_size: int = 32,
    max_new_tokens: int = 24,
) -> list[str]:
    """Deterministic captions, one per image (prompt tokens stripped from the output)."""
    return generate_texts(model, processor, images, [prompt] * len(images), batch_size,
                          max_new_tokens)  # fmt: skip


class BaseModelPersonalizer:
    """The untouched base VLM: ``train`` is a no-op, ``caption`` ignores fired concepts."""

    def __init__(
        self, model_dir: str | Path, instruction: str | None = None, batch_size: int = 32
    ) -> None:
        from photod_lab.toyworld.fixture import load_vlm

        self.model, self.processor = load_vlm(model_dir)
        self.prompt = prompt_text(self.processor, model_kind(self.model), instruction)
        self.batch_size = batch_size
        self.name = f"base:{Path(model_dir).name}"

    def train(
        self, concept: ConceptInfo, images: Sequence[Image.Image], targets: Sequence[Sequence[str]]
    ) -> Any:
        """Nothing to learn: the state is the concept itself."""
        return concept

    def caption(self, images: Sequence[Image.Image], fired: Sequence[Sequence[Any]]) -> list[str]:
        """Base-model captions; ``fired`` is ignored by design."""
        return greedy_captions(self.model, self.processor, images, self.prompt, self.batch_size)


class PhraseSubstitutionPersonalizer(BaseModelPersonalizer):
    """A text-level reference, not a method: when a concept fires, the base caption's first
    occurrence of the concept's class phrase is replaced by its identifier.

    On the toy world this is what an ideal concept embedding would produce (the base model
    describes a concept by its class phrase), so it bounds what the harness can report and
    checks the harness itself. It learns nothing from the training images.
    """

    def __init__(
        self, model_dir: str | Path, instruction: str | None = None, batch_size: int = 32
    ) -> None:
        super().__init__(model_dir, instruction, batch_size)
        self.name = f"substitute:{Path(model_dir).name}"

    def caption(self, images: Sequence[Image.Image], fired: Sequence[Sequence[Any]]) -> list[str]:
        """Base captions with fired concepts' class phrases replaced by identifiers."""
        out = []
        for text, states in zip(super().caption(images, fired), fired, strict=False):
            for concept in states:
                text = text.replace(concept.class_phrase, concept.identifier, 1)
            out.append(text)
        return out
