"""photod's properties in an XMP sidecar, merged with whatever else the sidecar holds.

Ownership: photod records what it added under its own namespace (``photod:Subjects``,
``photod:Description``, ...) and marks the regions it wrote with a ``photod:Writer`` field.
A rewrite first takes away exactly those values, then adds the new ones; ``clear`` only takes
away. Keywords, descriptions and regions that other tools wrote are never touched, and a person
who already has a region from another tool gets no second one from photod.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from photod.metadata.model import Fields, PhotoMetadata
from photod.metadata.rdf import ABOUT, NS, Packet, items, new_container, q
from photod.metadata.xmpregions import clear_regions, write_regions

XML_LANG = q("xml:lang")

# (property, container kind, photod's record of what it added there)
LISTS = {
    "keywords": [("dc:subject", "Bag", "photod:Subjects")],
    "hierarchy": [
        ("lr:hierarchicalSubject", "Bag", "photod:Hierarchy"),
        ("digiKam:TagsList", "Seq", "photod:TagsList"),
    ],
    "people": [("Iptc4xmpExt:PersonInImage", "Bag", "photod:People")],
}
RECORD = (
    "photod:Subjects", "photod:Hierarchy", "photod:TagsList", "photod:People",
    "photod:Description", "photod:ReplacedDescription", "photod:ExifDescriptions",
    "photod:ExifKeywords", "photod:CreatedSidecar",
)  # fmt: skip


def get_list(packet: Packet, name: str) -> list[str]:
    """The values of a Bag/Seq property (a lone attribute counts as one value)."""
    _desc, elem, attr = packet.find(name)
    if attr is not None:
        return [attr]
    return [(li.text or "").strip() for li in items(elem) if (li.text or "").strip()]


def set_list(packet: Packet, name: str, kind: str, values: list[str]) -> None:
    """Replace a Bag/Seq property, in the description that held it (removed when empty)."""
    desc, _elem, _attr = packet.find(name)
    packet.remove(name)
    if values:
        container = new_container(desc, name, kind)
        for value in values:
            ET.SubElement(container, q("rdf:li")).text = value


def merge_list(packet: Packet, name: str, kind: str, record: str, new: list[str]) -> None:
    """Replace photod's previous values of ``name`` with ``new``; keep everyone else's."""
    previous = set(get_list(packet, record))
    kept = [v for v in get_list(packet, name) if v not in previous]
    added = [v for v in dict.fromkeys(new) if v not in kept]
    set_list(packet, name, kind, kept + added)
    set_list(packet, record, "Bag", added)


def get_text(packet: Packet, name: str) -> str | None:
    """A simple text property, or None."""
    _desc, elem, attr = packet.find(name)
    return attr if elem is None else (elem.text or "")


def set_text(packet: Packet, name: str, value: str | None) -> None:
    """Set (or with None remove) a simple text property."""
    desc, _elem, _attr = packet.find(name)
    packet.remove(name)
    if value is not None:
        ET.SubElement(desc, q(name)).text = value


def get_description(packet: Packet) -> str | None:
    """The ``x-default`` (else the first) entry of ``dc:description``."""
    _desc, elem, attr = packet.find("dc:description")
    if attr is not None:
        return attr
    lis = items(elem)
    for li in lis:
        if li.get(XML_LANG) == "x-default":
            return li.text or ""
    return (lis[0].text or "") if lis else None


def set_description(packet: Packet, text: str | None) -> None:
    """Set the ``x-default`` entry, keeping the other languages; None removes it."""
    desc, elem, _attr = packet.find("dc:description")
    others = [li for li in items(elem) if li.get(XML_LANG) not in (None, "x-default")]
    packet.remove("dc:description")
    if text is None and not others:
        return
    container = new_container(desc, "dc:description", "Alt")
    if text is not None:
        ET.SubElement(container, q("rdf:li"), {XML_LANG: "x-default"}).text = text
    container.extend(others)


def _merge_description(packet: Packet, caption: str | None, overwrite: bool) -> None:
    current = get_description(packet)
    written = get_text(packet, "photod:Description")
    replaced = get_text(packet, "photod:ReplacedDescription")
    if current and current != written:  # the user's own (perhaps edited after photod wrote)
        if not overwrite or caption is None:
            set_text(packet, "photod:Description", None)
            set_text(packet, "photod:ReplacedDescription", None)
            return
        replaced = current
    if caption is None:
        set_description(packet, replaced)  # give back what photod had replaced, if anything
        replaced = None
    else:
        set_description(packet, caption)
    set_text(packet, "photod:Description", caption)
    set_text(packet, "photod:ReplacedDescription", replaced)


def apply(packet: Packet, meta: PhotoMetadata, fields: Fields, overwrite: bool) -> None:
    """Write ``meta`` (the parts ``fields`` selects) into ``packet``, merging as above."""
    _merge_description(packet, meta.caption if fields.description else None, overwrite)
    hierarchy = [
        ["|".join(path) for path in meta.hierarchy],
        ["/".join(path) for path in meta.hierarchy],  # digiKam's own separator
    ]
    new_values = {
        "keywords": [meta.keywords] if fields.keywords else [[]],
        "hierarchy": hierarchy if fields.hierarchy else [[], []],
        "people": [meta.people] if fields.people else [[]],
    }
    for key, targets in LISTS.items():
        for (name, kind, record), values in zip(targets, new_values[key], strict=True):
            merge_list(packet, name, kind, record, values)
    if fields.regions and meta.regions:
        write_regions(packet, meta.regions, meta.geometry)
    else:
        clear_regions(packet)


def clear(packet: Packet) -> None:
    """Take away everything photod wrote, and its record."""
    _merge_description(packet, None, overwrite=False)
    for targets in LISTS.values():
        for name, kind, record in targets:
            merge_list(packet, name, kind, record, [])
    clear_regions(packet)
    for name in RECORD:
        packet.remove(name)


def exif_record(packet: Packet) -> tuple[list[str], list[str]]:
    """What photod recorded writing into the photo's EXIF: (descriptions, keywords)."""
    return get_list(packet, "photod:ExifDescriptions"), get_list(packet, "photod:ExifKeywords")


def set_exif_record(packet: Packet, descriptions: list[str], keywords: list[str]) -> None:
    """Record what photod writes into the photo's EXIF (kept in the sidecar)."""
    set_list(packet, "photod:ExifDescriptions", "Bag", descriptions)
    set_list(packet, "photod:ExifKeywords", "Bag", keywords)


def only_record(packet: Packet) -> bool:
    """The packet holds nothing but photod's own bookkeeping (or nothing at all)."""
    ours = "{" + NS["photod"] + "}"
    for desc in packet.descriptions():
        if any(not child.tag.startswith(ours) for child in desc):
            return False
        if any(k != ABOUT and not k.startswith(ours) for k in desc.attrib):
            return False
    return True
