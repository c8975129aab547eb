"""Read a concept dataset in the MyVLM layout: ``<root>/<concept>/{images, captions.json}``.

``captions.json`` maps an image file name to a caption or a list of captions that contain the
identifier. Optional extras (written by the toy world): ``concept.json`` with identifier,
class word/phrase and generic scene captions; ``_negatives/`` (photos of no concept) and
``_multi/`` (several concepts per photo, listed in ``scenes.json``), and ``boxes.json`` in a
concept folder or ``_multi/`` (each concept's box per photo, for REC). Folders starting with
``_`` or ``.`` are never concepts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from photod.errors import ConfigError
from photod_lab.evaluation.protocol import ConceptInfo

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}


@dataclass
class ConceptData:
    """One concept's photos, target captions and (toy world) generic scene captions."""

    info: ConceptInfo
    images: list[Path]
    captions: dict[str, list[str]]
    scene_captions: dict[str, str] = field(default_factory=dict)
    #: photo name -> the concept's (x, y, w, h), normalised; empty without ``boxes.json``
    boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)


@dataclass
class MultiScene:
    """A photo holding several concepts."""

    image: Path
    concepts: list[str]
    captions: list[str]
    scene_caption: str | None = None
    boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)


@dataclass
class EvalDataset:
    """Everything ``photod eval`` reads from a dataset root."""

    concepts: list[ConceptData]
    negatives: list[Path]
    multi: list[MultiScene]


def _captions(folder: Path) -> dict[str, list[str]]:
    f = folder / "captions.json"
    if not f.exists():
        return {}
    raw = json.loads(f.read_text())
    return {k: [v] if isinstance(v, str) else list(v) for k, v in raw.items()}


def _boxes(folder: Path) -> dict[str, dict[str, tuple[float, float, float, float]]]:
    f = folder / "boxes.json"
    if not f.exists():
        return {}
    raw = json.loads(f.read_text())
    return {name: {k: tuple(b) for k, b in found.items()} for name, found in raw.items()}


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_concept(folder: Path, identifier: str | None = None) -> ConceptData:
    """Load one concept folder; ``identifier`` overrides/defaults the one in concept.json."""
    meta = (
        json.loads((folder / "concept.json").read_text())
        if (folder / "concept.json").exists()
        else {}
    )
    ident = meta.get("identifier") or identifier
    if not ident:
        raise ConfigError(f"{folder}: no identifier (add concept.json or pass --identifier)")
    word = meta.get("class_word") or folder.name.replace("_", " ")
    info = ConceptInfo(
        folder.name, ident, word, meta.get("class_phrase") or word, meta.get("kind", "object")
    )
    caps = _captions(folder)
    images = [p for p in _images(folder) if not caps or p.name in caps]
    boxes = {n: found[folder.name] for n, found in _boxes(folder).items() if folder.name in found}
    return ConceptData(info, images, caps, meta.get("scene_captions", {}), boxes)


def load_dataset(
    root: Path, identifier: str | None = None, concepts: list[str] | None = None
) -> EvalDataset:
    """Load every concept folder under ``root`` (or only ``concepts``)."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"dataset root {root} is not a directory")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and p.name[0] not in "_.")
    if concepts:
        folders = [p for p in folders if p.name in concepts]
    data = [load_concept(p, identifier) for p in folders]
    negatives = _images(root / "_negatives") if (root / "_negatives").is_dir() else []
    multi: list[MultiScene] = []
    scenes_file = root / "_multi" / "scenes.json"
    if scenes_file.exists():
        caps = _captions(root / "_multi")
        boxes = _boxes(root / "_multi")
        keys = {c.info.key for c in data}
        for name, meta in sorted(json.loads(scenes_file.read_text()).items()):
            if set(meta["concepts"]) <= keys:
                multi.append(
                    MultiScene(
                        root / "_multi" / name,
                        meta["concepts"],
                        caps.get(name, []),
                        meta.get("scene_caption"),
                        boxes.get(name, {}),
                    )
                )
    return EvalDataset(data, negatives, multi)
