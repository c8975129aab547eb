"""User concepts of the toy world and their scenes.

A concept is a distinctive object that never appears in base training data. The base models
describe it generically by its class phrase ("a yellow star"). Its identifier is a name the
base LM already emits (from :data:`photod_lab.toyworld.scenes.NAMES`) but for an ordinary object
of a *different shape*, so that the word is producible yet never tied to the concept's look.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from photod_lab.toyworld.render import Decoration
from photod_lab.toyworld.scenes import (
    NAMES,
    Look,
    Scene,
    SceneGenerator,
    describe,
    ordinary_items,
    scene_from_items,
)

#: Share of unnamed ordinary objects in base data that carry a caption-ignored decoration.
BASE_DECORATED_PROB = 0.3


@dataclass(frozen=True)
class ConceptSpec:
    """A toy user concept; ``key`` is its dataset folder name."""

    key: str
    identifier: str
    shape: str
    colour: str
    decorations: tuple[Decoration, ...]
    kind: str = "object"

    @property
    def class_phrase(self) -> str:
        """What a base model says for it: ``a yellow star``."""
        return describe(self.shape, self.colour)

    @property
    def class_word(self) -> str:
        """The class noun (the shape)."""
        return self.shape

    def item(self) -> tuple:
        """The scene item (shape, colour, decorations, phrase, concept key)."""
        return (self.shape, self.colour, self.decorations, self.class_phrase, self.key)


def toy_concepts() -> list[ConceptSpec]:
    """The toy world's eight concepts: detailed shapes, near look-alikes, person glyphs."""
    d = Decoration
    return [
        ConceptSpec(
            "dotted_star", "bob", "star", "yellow", (d("tips", "purple"), d("dot", "black"))
        ),
        ConceptSpec("checked_square", "luna", "square", "green", (d("checker", "white"),)),
        ConceptSpec("striped_triangle", "max", "triangle", "red", (d("stripes", "white"),)),
        ConceptSpec("ringed_circle", "rex", "circle", "blue", (d("ring", "yellow"),)),
        ConceptSpec("hatted_person", "zoe", "person", "red", (d("hat", "yellow"),), "person"),
        # A near look-alike: only a small white dot tells it from an ordinary purple circle.
        ConceptSpec("dotted_circle", "leo", "circle", "purple", (d("dot", "white"),)),
        ConceptSpec("belly_person", "ivy", "person", "green", (d("belly", "purple"),), "person"),
        ConceptSpec("tipped_triangle", "tom", "triangle", "white", (d("tips", "red"),)),
    ]


def concept_looks(concepts: list[ConceptSpec]) -> frozenset[Look]:
    """Every (shape, colour, decoration) of ``concepts``: base data never draws these."""
    return frozenset((c.shape, c.colour, d) for c in concepts for d in c.decorations)


def base_scene_generator(seed: int, image_size: int = 64) -> SceneGenerator:
    """The base models' data: ordinary scenes, some objects decorated, no concept's look."""
    return SceneGenerator(
        seed,
        image_size=image_size,
        decorated_prob=BASE_DECORATED_PROB,
        avoid=concept_looks(toy_concepts()),
    )


def check_identifiers(concepts: list[ConceptSpec]) -> None:
    """Raise if an identifier is not emittable or is the name of a same-shape object."""
    by_name = {name: shape for (shape, _), name in NAMES.items()}
    seen = set()
    for c in concepts:
        if c.identifier not in by_name:
            raise ValueError(f"{c.key}: identifier {c.identifier!r} is not in the name pool")
        if by_name[c.identifier] == c.shape:
            raise ValueError(f"{c.key}: identifier {c.identifier!r} names a {c.shape} already")
        if c.identifier in seen:
            raise ValueError(f"identifier {c.identifier!r} used twice")
        seen.add(c.identifier)


def concept_scene(
    rng: np.random.Generator, concepts: list[ConceptSpec], n_other: int, image_size: int = 64
) -> Scene:
    """A scene with ``concepts`` (distinct shapes) and ``n_other`` plain ordinary objects."""
    shapes = tuple(c.shape for c in concepts)
    items = [c.item() for c in concepts]
    items += ordinary_items(rng, n_other, named_prob=0.0, exclude_shapes=shapes)
    return scene_from_items(rng, items, image_size)


def target_caption(scene: Scene, concepts: list[ConceptSpec]) -> str:
    """The personalized caption: each concept's phrase replaced by its identifier."""
    ids = {c.key: c.identifier for c in concepts}
    return scene.caption(
        {i: ids[o.concept] for i, o in enumerate(scene.objects) if o.concept in ids}
    )
