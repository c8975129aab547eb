"""MWG and Microsoft Photo regions (faces, pets, objects) in the sidecar.

Both live in one struct per photo that other tools share: photod adds its own entries to the
region lists, marked with a ``photod:Writer`` field, and removes only entries with that mark.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from photod.metadata.model import Geometry, Region
from photod.metadata.rdf import (
    PARSE_TYPE,
    Packet,
    add_field,
    field_text,
    q,
    struct_holder,
)
from photod.metadata.regions import fmt, mp_rectangle, mwg_area, stored_size

WRITER = "photod"
# (top-level struct, list field inside it, name field of an entry)
MWG = ("mwg-rs:Regions", "mwg-rs:RegionList", "mwg-rs:Name")
MICROSOFT = ("MP:RegionInfo", "MPRI:Regions", "MPReg:PersonDisplayName")


def _resource(parent: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(parent, q(name), {PARSE_TYPE: "Resource"})


def _entries(packet: Packet, spec: tuple[str, str, str], create: bool) -> ET.Element | None:
    """The rdf:Bag of region entries (created on request), or None."""
    top_name, list_name, _ = spec
    desc, top, _attr = packet.find(top_name)
    if top is None:
        if not create:
            return None
        top = _resource(desc, top_name)
    holder = struct_holder(top)
    listed = holder.find(q(list_name))
    if listed is None:
        if not create:
            return None
        listed = ET.SubElement(holder, q(list_name))
    bag = listed.find(q("rdf:Bag"))
    if bag is None:
        bag = ET.SubElement(listed, q("rdf:Bag"))
    return bag


def _remove_ours(packet: Packet, spec: tuple[str, str, str]) -> set[str]:
    """Drop photod's entries; return the names in the entries of other tools."""
    bag = _entries(packet, spec, create=False)
    if bag is None:
        return set()
    others = set()
    for li in list(bag):
        holder = struct_holder(li)
        if field_text(holder, "photod:Writer") == WRITER:
            bag.remove(li)
        elif name := field_text(holder, spec[2]):
            others.add(name)
    if not items_of(bag):
        packet.remove(spec[0])  # nothing left: the whole struct goes (dimensions included)
    return others


def items_of(bag: ET.Element) -> list[ET.Element]:
    """The entries of a region bag."""
    return bag.findall(q("rdf:li"))


def clear_regions(packet: Packet) -> None:
    """Remove every region photod wrote, in both schemas."""
    _remove_ours(packet, MWG)
    _remove_ours(packet, MICROSOFT)


def write_regions(packet: Packet, regions: list[Region], geometry: Geometry) -> None:
    """Replace photod's regions with ``regions`` (boxes in the displayed frame)."""
    taken = _remove_ours(packet, MWG)
    fresh = [r for r in regions if r.name not in taken]
    if fresh:
        _write_mwg(packet, fresh, geometry)
    # Microsoft's schema has no region type: pets and objects go beside the people, by name.
    taken = _remove_ours(packet, MICROSOFT)
    listed = [r for r in regions if r.name not in taken]
    if listed:
        _write_microsoft(packet, listed, geometry)


def _write_mwg(packet: Packet, regions: list[Region], geometry: Geometry) -> None:
    bag = _entries(packet, MWG, create=True)
    assert bag is not None
    _desc, top, _ = packet.find(MWG[0])
    holder = struct_holder(top)  # type: ignore[arg-type]
    if holder.find(q("mwg-rs:AppliedToDimensions")) is None:
        width, height = stored_size(geometry.width, geometry.height, geometry.orientation)
        dims = _resource(holder, "mwg-rs:AppliedToDimensions")
        add_field(dims, "stDim:w", str(width))
        add_field(dims, "stDim:h", str(height))
        add_field(dims, "stDim:unit", "pixel")
        holder.remove(dims)
        holder.insert(0, dims)  # conventional order: dimensions before the list
    for region in regions:
        li = ET.SubElement(bag, q("rdf:li"), {PARSE_TYPE: "Resource"})
        area = _resource(li, "mwg-rs:Area")
        for key, value in zip("xywh", mwg_area(region.box, geometry.orientation), strict=True):
            add_field(area, f"stArea:{key}", fmt(value))
        add_field(area, "stArea:unit", "normalized")
        add_field(li, "mwg-rs:Name", region.name)
        add_field(li, "mwg-rs:Type", region.kind)
        add_field(li, "photod:Writer", WRITER)


def _write_microsoft(packet: Packet, regions: list[Region], geometry: Geometry) -> None:
    bag = _entries(packet, MICROSOFT, create=True)
    assert bag is not None
    for region in regions:
        li = ET.SubElement(bag, q("rdf:li"), {PARSE_TYPE: "Resource"})
        rect = mp_rectangle(region.box, geometry.orientation)
        add_field(li, "MPReg:Rectangle", ", ".join(fmt(v) for v in rect))
        add_field(li, "MPReg:PersonDisplayName", region.name)
        add_field(li, "photod:Writer", WRITER)
