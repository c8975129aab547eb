"""Grounding for the toy LLaVA: "locate the X ?" answered with the object's box as text.

Real grounding VLMs learn to answer with coordinates during their base training (MiniGPT-v2:
``{<x0><y0><x1><y1>}`` on a 0-100 grid). The toy LLaVA learns the same from scenes whose
boxes the renderer knows: an object's box is its centre plus and minus its size, the square
the shape is drawn in. Coordinates are coarse (multiples of :data:`GRID` on 0-100, one token
each: a 64-pixel image has 8 patches a side, so finer steps would be guessed); rounding alone
keeps IoU >= 0.5 for 99% of the toy objects.

Some questions ask about something that is not there: a shape the scene lacks (answer
``none``), or, through a token appended as photod appends a concept token, an object that
differs from one in the scene by colour or decoration (answer ``none`` too). This is what
teaches the model to give no box for an absent concept, not the nearest look-alike's.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from photod.faces.base import iou
from photod.vlm.boxes import parse_box
from photod_lab.toyworld.metrics import generate_texts, prompt_text
from photod_lab.toyworld.naming import NAME_POOL, Naming
from photod_lab.toyworld.render import SHAPES, Decoration, ObjectSpec
from photod_lab.toyworld.scenes import (
    BASE_COLOURS,
    DECORATIONS_BY_SHAPE,
    Scene,
    SceneObject,
    describe,
)

GRID = 10
COORD_TOKENS: tuple[str, ...] = tuple(f"<{v}>" for v in range(0, 101, GRID))
#: Tokens the grounding fixture adds to the toy vocabulary (ids after the original 70).
GROUND_TOKENS: tuple[str, ...] = ("locate", "{", "}", *COORD_TOKENS)
ABSENT = "none"
log = logging.getLogger(__name__)


def ground_question(subject: str) -> str:
    """The grounding question about ``subject`` ("the star", or a concept's identifier)."""
    return f"locate {subject} ?"


def object_box(spec: ObjectSpec, image_size: int) -> tuple[float, float, float, float]:
    """The object's normalised (x, y, w, h): the square it is drawn in, clipped to the image."""
    x0, y0 = max(0.0, spec.cx - spec.size), max(0.0, spec.cy - spec.size)
    x1, y1 = min(image_size, spec.cx + spec.size), min(image_size, spec.cy + spec.size)
    return x0 / image_size, y0 / image_size, (x1 - x0) / image_size, (y1 - y0) / image_size


def box_answer(box: tuple[float, float, float, float]) -> str:
    """The answer text of a box: MiniGPT-v2's braces, corners rounded to the grid."""
    x, y, w, h = box
    corners = [round(v * 100 / GRID) * GRID for v in (x, y, x + w, y + h)]
    return "{" + "".join(f"<{c}>" for c in corners) + "}"


def add_grounding_tokens(model, processor) -> int:
    """Add :data:`GROUND_TOKENS` the tokenizer lacks and grow the LM's embeddings to match
    (new rows start at the mean of the old ones); the number of tokens added."""
    tok = processor.tokenizer
    missing = [t for t in GROUND_TOKENS if t not in tok.get_vocab()]
    if missing:
        tok.add_tokens(missing)
        model.resize_token_embeddings(len(tok))
    return len(missing)


@dataclass(frozen=True)
class GroundPick:
    """One grounding sample: the question (by shape), the answer, and for an absent object
    asked about through an appended token, that object (``named``: it must be named)."""

    question: str
    answer: str
    absent: SceneObject | None = None
    named: bool = False


def _absent_object(scene: Scene, rng: np.random.Generator) -> tuple[SceneObject, bool]:
    """Something not in ``scene``: another shape (askable by its shape), or a present shape in
    another colour or with another decoration (askable only through a token)."""
    present = [o.spec for o in scene.objects]
    kind = int(rng.integers(3))
    if kind == 0 or len(present) == len(SHAPES):
        others = [s for s in SHAPES if s not in {p.shape for p in present}] or list(SHAPES)
        spec = ObjectSpec(str(rng.choice(others)), str(rng.choice(BASE_COLOURS)), 0, 0, 8)
        named = kind != 0
    else:
        base = present[int(rng.integers(len(present)))]
        if kind == 1:
            colour = str(rng.choice([c for c in BASE_COLOURS if c != base.colour]))
            spec = dataclasses.replace(base, colour=colour)
        elif base.decorations:
            spec = dataclasses.replace(base, decorations=())
        else:
            deco_kind = str(rng.choice(DECORATIONS_BY_SHAPE[base.shape]))
            colour = "white" if base.colour != "white" else "black"
            spec = dataclasses.replace(base, decorations=(Decoration(deco_kind, colour),))
        named = True
    return SceneObject(spec, describe(spec.shape, spec.colour)), named


def pick_grounds(
    scenes: Sequence[Scene], rng: np.random.Generator, share: float, absent_share: float
) -> list[GroundPick | None]:
    """With probability ``share`` per scene a grounding sample: about one of its objects, or
    (with probability ``absent_share``) about something absent."""
    out: list[GroundPick | None] = []
    if not share:  # no draws at all: runs without grounding replay as before
        return [None] * len(scenes)
    for s in scenes:
        if rng.random() >= share:
            out.append(None)
        elif rng.random() < absent_share:
            obj, named = _absent_object(s, rng)
            out.append(GroundPick(ground_question(f"the {obj.spec.shape}"), ABSENT, obj, named))
        else:
            o = s.objects[int(rng.integers(len(s.objects)))]
            box = box_answer(object_box(o.spec, s.image_size))
            out.append(GroundPick(ground_question(f"the {o.spec.shape}"), box))
    return out


def name_absent(
    scene: Scene, naming: Naming, pick: GroundPick | None, rng: np.random.Generator
) -> tuple[Scene, Naming]:
    """For a sample about an absent object that must be (or, half the time, may be) named: the
    scene with that object added (only the appended token's look is made from it, never the
    image) and a naming of it alone, so that the question asks for it by name."""
    if pick is None or pick.absent is None or not (pick.named or rng.random() < 0.5):
        return scene, naming
    taken = {o.phrase for o in scene.objects}
    name = str(rng.choice([n for n in NAME_POOL if n not in taken]))
    with_absent = dataclasses.replace(scene, objects=[*scene.objects, pick.absent])
    return with_absent, Naming((len(scene.objects),), (name,))


@torch.no_grad()
def grounding_accuracy(model, processor, scenes: Sequence[Scene]) -> float:
    """Share of "locate the X ?" questions answered right: every object of every scene (a box
    with IoU >= 0.5) and one absent shape per scene with fewer than five (no box)."""
    images, texts, wanted = [], [], []
    rng = np.random.default_rng(0)
    for s in scenes:
        image = s.image()
        for o in s.objects:
            images.append(image)
            texts.append(prompt_text(processor, "llava", ground_question(f"the {o.spec.shape}")))
            wanted.append(object_box(o.spec, s.image_size))
        missing = [sh for sh in SHAPES if sh not in {o.spec.shape for o in s.objects}]
        if missing:
            images.append(image)
            texts.append(
                prompt_text(processor, "llava", ground_question(f"the {rng.choice(missing)}"))
            )
            wanted.append(None)
    answers = generate_texts(model, processor, images, texts)
    log.info("grounding answers, first three: %s", answers[:3])
    right = 0
    for answer, box in zip(answers, wanted, strict=True):
        got = parse_box(answer).box
        right += (got is None) if box is None else (got is not None and iou(got, box) >= 0.5)
    return right / len(wanted)
