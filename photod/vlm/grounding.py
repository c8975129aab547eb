"""Personalized referring-expression comprehension: "where is Rex?" answered with a box.

A grounding VLM (``vlm.models[].grounding`` set) is asked its referring question about the
concept's identifier with the concept's embedding appended, exactly as for a caption (MyVLM's
third task); the answer's coordinates go through :func:`photod.vlm.boxes.parse_box`, and a
malformed, out-of-range or missing box is logged and dropped, never written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from photod.vlm.boxes import parse_box
from photod.vlm.runtime import FiredConcept, VlmRuntime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Located:
    """A grounding VLM's answer about one subject: the box (x, y, w, h normalised in the
    image as given) or None with the reason."""

    subject: str
    model: str
    answer: str
    box: tuple[float, float, float, float] | None
    reason: str | None = None


def grounding_models(runtime: VlmRuntime) -> list[str]:
    """The configured VLMs that answer with boxes, in config order."""
    return [m for m in runtime.model_ids if runtime.model_config(m).grounding is not None]


def _ask(
    runtime: VlmRuntime, model_id: str, image: Image.Image, subjects, concepts
) -> list[Located]:
    cfg = runtime.model_config(model_id).grounding
    if cfg is None:
        raise ValueError(f"vlm {model_id!r} has no grounding settings")
    questions = [cfg.question.replace("{concept}", s) for s in subjects]
    with runtime.use(model_id) as session:
        texts = session.generate([image] * len(questions), questions, concepts)
    out = []
    for subject, text in zip(subjects, texts, strict=True):
        parsed = parse_box(text, cfg.grid)
        if parsed.box is None:
            log.info("%s: no box for %s: %s", model_id, subject, parsed.reason)
        out.append(Located(subject, model_id, text, parsed.box, parsed.reason))
    return out


def locate(
    runtime: VlmRuntime, model_id: str, image: Image.Image, concepts: Sequence[FiredConcept]
) -> list[Located]:
    """Each concept's box in ``image``: one question per concept, with only that concept's
    embedding appended (all questions in one batched ``generate``)."""
    if not concepts:
        return []
    subjects = [c.identifier for c in concepts]
    appended = [[(c.identifier, c.embedding)] for c in concepts]
    return _ask(runtime, model_id, image, subjects, appended)


def locate_plain(
    runtime: VlmRuntime, model_id: str, image: Image.Image, phrases: Sequence[str]
) -> list[Located]:
    """The untouched model asked about ``phrases`` ("the dog"): the baseline a personal
    concept is measured against."""
    if not phrases:
        return []
    return _ask(runtime, model_id, image, list(phrases), [[] for _ in phrases])
