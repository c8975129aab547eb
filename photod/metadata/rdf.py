"""A small RDF/XML layer over :mod:`xml.etree.ElementTree` for XMP packets.

XMP allows the same property in several syntaxes (an attribute on ``rdf:Description``, a child
element, a struct as ``rdf:parseType="Resource"`` or as a nested ``rdf:Description``); these
helpers read all of them and write the element forms, so a sidecar from digiKam, Lightroom or
exiftool keeps everything photod does not touch.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "xml": "http://www.w3.org/XML/1998/namespace",
    "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "mwg-rs": "http://www.metadataworkinggroup.com/schemas/regions/",
    "stDim": "http://ns.adobe.com/xap/1.0/sType/Dimensions#",
    "stArea": "http://ns.adobe.com/xmp/sType/Area#",
    "MP": "http://ns.microsoft.com/photo/1.2/",
    "MPRI": "http://ns.microsoft.com/photo/1.2/t/RegionInfo#",
    "MPReg": "http://ns.microsoft.com/photo/1.2/t/Region#",
    "photod": "http://ns.photod.invalid/xmp/1.0/",
}
_GENERATED_PREFIX = re.compile(r"ns\d+$")


def q(name: str) -> str:
    """``"dc:subject"`` -> ``"{http://purl.org/dc/elements/1.1/}subject"``."""
    prefix, local = name.split(":", 1)
    return f"{{{NS[prefix]}}}{local}"


RDF_DESC, RDF_LI, RDF_RDF = q("rdf:Description"), q("rdf:li"), q("rdf:RDF")
PARSE_TYPE, ABOUT = q("rdf:parseType"), q("rdf:about")
CONTAINERS = (q("rdf:Bag"), q("rdf:Seq"), q("rdf:Alt"))


class Packet:
    """A parsed (or new) XMP packet and the namespace prefixes its author used."""

    def __init__(self, root: ET.Element, prefixes: dict[str, str] | None = None) -> None:
        self.root = root
        self.prefixes = prefixes or {}

    @classmethod
    def new(cls) -> Packet:
        """An empty ``x:xmpmeta`` with one ``rdf:Description``."""
        root = ET.Element(q("x:xmpmeta"), {q("x:xmptk"): "photod"})
        rdf = ET.SubElement(root, RDF_RDF)
        ET.SubElement(rdf, RDF_DESC, {ABOUT: ""})
        return cls(root)

    @classmethod
    def parse(cls, data: bytes) -> Packet:
        """Parse a sidecar; raises :class:`ET.ParseError` on malformed XML."""
        prefixes: dict[str, str] = {}
        root = None
        for event, item in ET.iterparse(io.BytesIO(data), events=("start-ns", "start")):
            if event == "start-ns":
                prefix, uri = item
                prefixes.setdefault(uri, prefix)
            elif root is None:
                root = item
        assert root is not None
        if root.tag == RDF_RDF:  # a bare rdf:RDF without the x:xmpmeta wrapper
            wrapper = ET.Element(q("x:xmpmeta"))
            wrapper.append(root)
            root = wrapper
        if root.find(RDF_RDF) is None:
            raise ET.ParseError("no rdf:RDF element: not an XMP packet")
        return cls(root, prefixes)

    @property
    def rdf(self) -> ET.Element:
        """The ``rdf:RDF`` element."""
        found = self.root.find(RDF_RDF)
        assert found is not None
        return found

    def descriptions(self) -> list[ET.Element]:
        """The top-level ``rdf:Description`` elements (at least one is created)."""
        found = self.rdf.findall(RDF_DESC)
        if not found:
            found = [ET.SubElement(self.rdf, RDF_DESC, {ABOUT: ""})]
        return found

    def find(self, name: str) -> tuple[ET.Element, ET.Element | None, str | None]:
        """Where property ``name`` is: (description, element or None, attribute value or None)."""
        tag = q(name)
        for desc in self.descriptions():
            if tag in desc.attrib:
                return desc, None, desc.attrib[tag]
            elem = desc.find(tag)
            if elem is not None:
                return desc, elem, None
        return self.descriptions()[0], None, None

    def remove(self, name: str) -> None:
        """Remove property ``name`` in every form and every description."""
        tag = q(name)
        for desc in self.descriptions():
            desc.attrib.pop(tag, None)
            for elem in desc.findall(tag):
                desc.remove(elem)

    def is_empty(self) -> bool:
        """No properties at all (only empty descriptions)."""
        for desc in self.descriptions():
            if len(desc) or any(k != ABOUT for k in desc.attrib):
                return False
        return True

    def serialize(self) -> bytes:
        """The packet as a UTF-8 sidecar with the ``<?xpacket?>`` wrapper apps expect."""
        # ElementTree picks prefixes from its own process-wide table; registering the known
        # ones (and the ones the file's author used) keeps the familiar prefixes on rewrite.
        for prefix, uri in NS.items():
            if prefix != "xml":
                ET.register_namespace(prefix, uri)
        for uri, prefix in self.prefixes.items():
            if prefix and uri not in NS.values() and not _GENERATED_PREFIX.match(prefix):
                ET.register_namespace(prefix, uri)
        ET.indent(self.root, space=" ")
        body = ET.tostring(self.root, encoding="unicode")
        text = (
            '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            + body
            + '\n<?xpacket end="w"?>\n'
        )
        return text.encode("utf-8")


def struct_holder(elem: ET.Element) -> ET.Element:
    """The element holding a struct's fields, for each RDF struct syntax."""
    if elem.get(PARSE_TYPE) == "Resource":
        return elem
    nested = elem.find(RDF_DESC)
    return nested if nested is not None else elem


def field_text(holder: ET.Element, name: str) -> str | None:
    """A simple struct field, as an attribute or a child element."""
    tag = q(name)
    if tag in holder.attrib:
        return holder.attrib[tag]
    child = holder.find(tag)
    return None if child is None else (child.text or "")


def items(container_parent: ET.Element | None) -> list[ET.Element]:
    """The ``rdf:li`` items of the Bag/Seq/Alt inside a property element."""
    if container_parent is None:
        return []
    for tag in CONTAINERS:
        container = container_parent.find(tag)
        if container is not None:
            return container.findall(RDF_LI)
    return []


def add_field(holder: ET.Element, name: str, value: str) -> ET.Element:
    """Append a simple field as a child element."""
    child = ET.SubElement(holder, q(name))
    child.text = value
    return child


def new_container(parent: ET.Element, name: str, kind: str) -> ET.Element:
    """Create ``<name><rdf:kind/></name>`` under ``parent``; return the container."""
    prop = ET.SubElement(parent, q(name))
    return ET.SubElement(prop, q(f"rdf:{kind}"))
