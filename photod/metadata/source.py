"""What to write for a photo, built from what the index holds for it."""

from __future__ import annotations

from photod.config import MetadataConfig
from photod.index import tags
from photod.index.results import StoredPhoto
from photod.metadata.model import FACE, OBJECT, PET, Geometry, PhotoMetadata, Region

#: The MWG region type of each concept kind.
REGION_TYPES = {"person": FACE, "pet": PET, "object": OBJECT}


def pick_caption(captions: list[tuple[str, str]], model: str | None) -> str | None:
    """The caption of ``model`` if given and present, else the first; from (model, text)."""
    for cap_model, text in captions:
        if model is None or cap_model == model:
            return text
    return captions[0][1] if captions else None


def build(photo: StoredPhoto, config: MetadataConfig) -> PhotoMetadata:
    """What to write for an indexed photo.

    Keywords are the names of the concepts found, the photo's tags (what a stage or plugin
    stored as a tag) and, with ``answer_tags``, the short VQA answers stored as tags. The
    tags photod stores for the concepts found are left out: their names are written above,
    under the people, pets or objects root.
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
        if item.box is not None and item.kind in REGION_TYPES:
            meta.regions.append(Region(item.name, REGION_TYPES[item.kind], item.box))
    keywords = [
        t.value
        for t in photo.tags
        if t.source != tags.CONCEPT_SOURCE
        and (
            t.source != tags.ANSWER_SOURCE
            or (config.answer_tags and len(t.value.split()) <= config.max_tag_words)
        )
    ]
    for tag in keywords:
        meta.keywords.append(tag)
        meta.hierarchy.append((config.tags_root, tag))
    meta.keywords = list(dict.fromkeys(meta.keywords))
    meta.hierarchy = list(dict.fromkeys(meta.hierarchy))
    meta.people = list(dict.fromkeys(meta.people))
    return meta
