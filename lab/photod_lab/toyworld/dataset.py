"""Write the toy concepts as a dataset in the MyVLM layout.

Layout (what ``photod eval`` reads; real datasets need only the first two files)::

    <root>/<concept>/NNN.png + captions.json   {"NNN.png": ["bob left of a blue square"]}
    <root>/<concept>/concept.json             identifier, class word/phrase, scene captions
    <root>/_negatives/ ... captions.json        scenes without any concept (look-alikes too)
    <root>/_multi/ ... captions.json + scenes.json   several concepts per scene
    <root>/<concept>/boxes.json, _multi/boxes.json   {"NNN.png": {"dotted_star": [x, y, w, h]}}

Boxes are the concepts' (normalised x, y, w, h, the square each is drawn in); writing them
draws no random numbers, so a seed gives the same photos as before they were recorded.

Usage: ``python -m photod_lab.toyworld.dataset OUT [--per-concept 20] [--seed 7]``
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from photod_lab.toyworld.concepts import (
    ConceptSpec,
    check_identifiers,
    concept_scene,
    target_caption,
    toy_concepts,
)
from photod_lab.toyworld.grounding import object_box
from photod_lab.toyworld.scenes import Scene, ordinary_items, scene_from_items

log = logging.getLogger(__name__)


def _write_images(folder: Path, scenes: list[Scene]) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i, s in enumerate(scenes):
        name = f"{i:03d}.png"
        s.image().save(folder / name)
        names.append(name)
    return names


def _dump(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=True))


def concept_boxes(names: list[str], scenes: list[Scene]) -> dict[str, dict[str, list[float]]]:
    """Per photo, each concept's box (what ``photod eval``'s REC section scores against)."""
    return {
        n: {o.concept: list(object_box(o.spec, s.image_size)) for o in s.objects if o.concept}
        for n, s in zip(names, scenes, strict=True)
    }


def lookalike_scene(rng: np.random.Generator, concept: ConceptSpec, image_size: int) -> Scene:
    """A negative scene holding the concept's plain look-alike (same shape and colour)."""
    items = [(concept.shape, concept.colour, (), concept.class_phrase, None)]
    items += ordinary_items(rng, int(rng.integers(0, 3)), 0.0, exclude_shapes=(concept.shape,))
    return scene_from_items(rng, items, image_size)


def write_toy_dataset(
    root: Path,
    seed: int = 7,
    per_concept: int = 20,
    negatives: int = 40,
    multi: int = 24,
    image_size: int = 64,
    concepts: list[ConceptSpec] | None = None,
) -> Path:
    """Generate concept folders, ``_negatives`` and ``_multi`` under ``root``; returns root."""
    concepts = concepts or toy_concepts()
    check_identifiers(concepts)
    rng = np.random.default_rng(seed)
    for c in concepts:
        # Alone, with one, or with two ordinary objects, in about equal shares.
        scenes = [concept_scene(rng, [c], i % 3, image_size) for i in range(per_concept)]
        names = _write_images(root / c.key, scenes)
        _dump(
            root / c.key / "captions.json",
            {n: [target_caption(s, [c])] for n, s in zip(names, scenes, strict=False)},
        )
        _dump(root / c.key / "boxes.json", concept_boxes(names, scenes))
        _dump(
            root / c.key / "concept.json",
            {
                "identifier": c.identifier,
                "class_word": c.class_word,
                "class_phrase": c.class_phrase,
                "kind": c.kind,
                "scene_captions": {n: s.caption() for n, s in zip(names, scenes, strict=False)},
            },
        )
    neg = [
        lookalike_scene(rng, concepts[i % len(concepts)], image_size)
        if i % 2 == 0
        else scene_from_items(rng, ordinary_items(rng, int(rng.integers(1, 4)), 0.0), image_size)
        for i in range(negatives)
    ]
    names = _write_images(root / "_negatives", neg)
    _dump(
        root / "_negatives" / "captions.json",
        {n: [s.caption()] for n, s in zip(names, neg, strict=True)},
    )
    scenes, members = [], []
    while len(scenes) < multi:
        k = int(rng.integers(2, 4))
        picked = [concepts[i] for i in rng.choice(len(concepts), size=k, replace=False)]
        if len({c.shape for c in picked}) < k:
            continue  # shapes in a scene are distinct, so questions stay unambiguous
        scenes.append(
            concept_scene(rng, picked, 0 if k == 3 else int(rng.integers(0, 2)), image_size)
        )
        members.append(picked)
    names = _write_images(root / "_multi", scenes)
    _dump(
        root / "_multi" / "captions.json",
        {n: [target_caption(s, m)] for n, s, m in zip(names, scenes, members, strict=False)},
    )
    _dump(root / "_multi" / "boxes.json", concept_boxes(names, scenes))
    _dump(
        root / "_multi" / "scenes.json",
        {
            n: {"concepts": s.concepts, "scene_caption": s.caption()}
            for n, s in zip(names, scenes, strict=False)
        },
    )
    log.info("wrote toy dataset (%d concepts) to %s", len(concepts), root)
    return root


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m photod_lab.toyworld.dataset``."""
    logging.basicConfig(level=logging.INFO)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--per-concept", type=int, default=20)
    p.add_argument("--negatives", type=int, default=40)
    p.add_argument("--multi", type=int, default=24)
    a = p.parse_args(argv)
    write_toy_dataset(a.out, a.seed, a.per_concept, a.negatives, a.multi)


if __name__ == "__main__":
    main()
