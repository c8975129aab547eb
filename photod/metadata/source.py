"""What to write for a photo, built from what the index holds for it."""

from __future__ import annotations

import re

from photod.config import MetadataConfig
from photod.index.results import StoredPhoto
from photod.metadata.model import FACE, PET, Geometry, PhotoMetadata, Region

_YES_NO = {"yes", "no", "none", "nothing", "unknown", "n/a"}
_TRIM = re.compile(r"^[\s\"'“”‘’]+|[\s.!?,;:\"'“”‘’]+$")


def answer_tag(answer: str, max_words: int) -> str | None:
    """A short VQA answer as a keyword (``"A beach."`` -> ``"beach"``), or None."""
    text = _TRIM.sub("", answer)
    words = text.split()
    if words and words[0].lower() in ("a", "an", "the"):
        words = words[1:]
    tag = " ".join(words)
    if not tag or len(words) > max_words or tag.lower() in _YES_NO:
        return None
    return tag


def pick_caption(captions: list[tuple[str, str]], model: str | None) -> str | None:
    """The caption of ``model`` if given and present, else the first; from (model, text)."""
    for cap_model, text in captions:
        if model is None or cap_model == model:
            return text
    return captions[0][1] if captions else None


def build(photo: StoredPhoto, config: MetadataConfig) -> PhotoMetadata:
    """What to write for an indexed photo.

    Keywords are the names of the concepts found, the photo's tags (only what a stage or
    plugin stored as a tag) and, with ``answer_tags``, short VQA answers.
    """
    roots = {"person": config.people_root, "pet": config.pets_root}
    geometry = Geometry(photo.width, photo.height, photo.orientation)
    caption = pick_caption(photo.captions, config.caption_model)
    meta = PhotoMetadata(geometry=geometry, caption=caption or None)
    for item in photo.found:
        meta.keywords.append(item.name)
        meta.hierarchy.append((roots.get(item.kind, config.objects_root), item.name))
        if item.kind == "person":
            meta.people.append(item.name)
        if item.box is not None and item.kind in roots:
            meta.regions.append(Region(item.name, FACE if item.kind == "person" else PET, item.box))
    tags = [t.value for t in photo.tags]
    if config.answer_tags:
        tags += [a for a in (answer_tag(x, config.max_tag_words) for x in photo.answers) if a]
    for tag in tags:
        meta.keywords.append(tag)
        meta.hierarchy.append((config.tags_root, tag))
    meta.keywords = list(dict.fromkeys(meta.keywords))
    meta.hierarchy = list(dict.fromkeys(meta.hierarchy))
    meta.people = list(dict.fromkeys(meta.people))
    return meta
