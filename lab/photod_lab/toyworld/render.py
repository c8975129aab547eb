"""Drawing of toy-world objects and backgrounds with Pillow.

Scenes are drawn at ``SUPERSAMPLE`` times the final size and downsampled, so that edges are
anti-aliased like a real (tiny) photo rather than a hard binary mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

SUPERSAMPLE = 2

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 40, 40),
    "green": (40, 170, 60),
    "blue": (45, 85, 225),
    "yellow": (240, 215, 35),
    "purple": (150, 55, 200),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
}
# Mid-tone backgrounds: black marks (name outlines, centre dots) and white/yellow shapes both
# stay visible on them.
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "gray": (120, 120, 120),
    "slate": (95, 110, 135),
    "sand": (150, 130, 100),
    "moss": (105, 120, 95),
}
SHAPES = ("circle", "square", "triangle", "star", "person")
TEXTURES = ("plain", "noise", "stripes", "grid")


@dataclass(frozen=True)
class Decoration:
    """A detail drawn on top of an object: ``kind`` in dot, tips, stripes, checker, ring, hat,
    outline, belly; ``colour`` is a key of :data:`COLOURS`."""

    kind: str
    colour: str = "black"


@dataclass(frozen=True)
class ObjectSpec:
    """One object of a scene: centre and size in pixels of the final image."""

    shape: str
    colour: str
    cx: float
    cy: float
    size: float
    decorations: tuple[Decoration, ...] = field(default_factory=tuple)


def _jitter(rgb: tuple[int, int, int], rng: np.random.Generator, amount: int) -> tuple[int, ...]:
    d = rng.integers(-amount, amount + 1, size=3)
    return tuple(int(v) for v in np.clip(np.array(rgb) + d, 0, 255))


def star_points(cx: float, cy: float, r: float, inner: float = 0.45) -> list[tuple[float, float]]:
    """Vertices of an upright five-pointed star (outer points at even indices)."""
    pts = []
    for i in range(10):
        rad = r if i % 2 == 0 else r * inner
        ang = -math.pi / 2 + i * math.pi / 5
        pts.append((cx + rad * math.cos(ang), cy + rad * math.sin(ang)))
    return pts


def _draw_shape(
    draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, s: float, fill
) -> None:
    if shape == "circle":
        draw.ellipse([cx - s, cy - s, cx + s, cy + s], fill=fill)
    elif shape == "square":
        h = s * 0.85
        draw.rectangle([cx - h, cy - h, cx + h, cy + h], fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, cy - s), (cx + s, cy + s * 0.8), (cx - s, cy + s * 0.8)], fill=fill)
    elif shape == "star":
        draw.polygon(star_points(cx, cy, s * 1.1), fill=fill)
    elif shape == "person":
        w = max(2, int(s * 0.28))
        hr = s * 0.3
        draw.ellipse([cx - hr, cy - s, cx + hr, cy - s + 2 * hr], fill=fill)
        neck, hip = cy - s + 2 * hr, cy + s * 0.25
        draw.line([(cx, neck), (cx, hip)], fill=fill, width=w)
        draw.line(
            [(cx - s * 0.7, neck + s * 0.25), (cx + s * 0.7, neck + s * 0.25)], fill=fill, width=w
        )
        draw.line([(cx, hip), (cx - s * 0.55, cy + s)], fill=fill, width=w)
        draw.line([(cx, hip), (cx + s * 0.55, cy + s)], fill=fill, width=w)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def _pattern(
    kind: str, size: int, colour: tuple[int, ...], cx: float, cy: float, s: float
) -> Image.Image:
    """A full-canvas RGBA pattern image, later masked by the object's silhouette."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    step = max(2, int(s * 0.5))
    if kind == "stripes":
        y = int(cy - s)
        while y < cy + s:
            d.rectangle([cx - s * 1.2, y, cx + s * 1.2, y + step // 2], fill=colour + (255,))
            y += step
    elif kind == "checker":
        for i, x in enumerate(range(int(cx - s), int(cx + s), step)):
            for j, y in enumerate(range(int(cy - s), int(cy + s), step)):
                if (i + j) % 2 == 0:
                    d.rectangle([x, y, x + step - 1, y + step - 1], fill=colour + (255,))
    return img


def draw_object(
    canvas: Image.Image, obj: ObjectSpec, rng: np.random.Generator, scale: float = SUPERSAMPLE
) -> None:
    """Draw ``obj`` (final-image coordinates) onto the RGB ``canvas`` drawn ``scale`` x larger."""
    k = scale
    cx, cy, s = obj.cx * k, obj.cy * k, obj.size * k
    base = _jitter(COLOURS[obj.colour], rng, 12)
    draw = ImageDraw.Draw(canvas)
    kinds = {d.kind: d for d in obj.decorations}
    if "outline" in kinds:
        # The outline is the same silhouette drawn slightly larger underneath.
        _draw_shape(draw, obj.shape, cx, cy, s + 1.6 * k, COLOURS[kinds["outline"].colour])
    _draw_shape(draw, obj.shape, cx, cy, s, base)
    for deco in obj.decorations:
        col = _jitter(COLOURS[deco.colour], rng, 8)
        if deco.kind in ("stripes", "checker"):
            mask = Image.new("L", canvas.size, 0)
            _draw_shape(ImageDraw.Draw(mask), obj.shape, cx, cy, s, 255)
            pat = _pattern(deco.kind, canvas.width, col, cx, cy, s)
            canvas.paste(
                pat, (0, 0), Image.fromarray(np.minimum(np.asarray(mask), np.asarray(pat)[..., 3]))
            )
        elif deco.kind == "dot":
            r = s * 0.28
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=col)
        elif deco.kind == "belly":
            r = s * 0.22
            draw.ellipse([cx - r, cy - r * 0.4, cx + r, cy + r * 1.6], fill=col)
        elif deco.kind == "ring":
            r, w = s * 0.6, max(2, int(s * 0.2))
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=col, width=w)
        elif deco.kind == "tips":
            outer = (
                star_points(cx, cy, s * 1.1)[0::2]
                if obj.shape == "star"
                else [(cx, cy - s), (cx + s * 0.8, cy + s * 0.8), (cx - s * 0.8, cy + s * 0.8)]
            )
            r = s * 0.22
            for x, y in outer:
                draw.ellipse([x - r, y - r, x + r, y + r], fill=col)
        elif deco.kind == "hat":
            top = cy - s * 1.05
            draw.polygon(
                [(cx - s * 0.45, top), (cx + s * 0.45, top), (cx, top - s * 0.5)], fill=col
            )
        elif deco.kind != "outline":
            raise ValueError(f"unknown decoration {deco.kind!r}")


def draw_silhouette(
    draw: ImageDraw.ImageDraw, obj: ObjectSpec, scale: float = SUPERSAMPLE, margin: float = 1.0
) -> None:
    """Fill ``obj``'s silhouette with 255 on a mask ``scale`` x larger, ``margin`` x its size
    (a margin above 1 covers the decorations drawn past the outline: tips, hats)."""
    k = scale
    _draw_shape(draw, obj.shape, obj.cx * k, obj.cy * k, obj.size * k * margin, 255)
    if any(d.kind == "hat" for d in obj.decorations):
        cx, top, s = obj.cx * k, (obj.cy - obj.size * 1.05) * k, obj.size * k
        draw.polygon([(cx - s * 0.45, top), (cx + s * 0.45, top), (cx, top - s * 0.5)], fill=255)


def background(size: int, colour: str, texture: str, rng: np.random.Generator) -> Image.Image:
    """A plain or textured background of ``size`` pixels (already supersampled)."""
    arr = np.empty((size, size, 3), dtype=np.float32)
    arr[:] = np.array(_jitter(BACKGROUNDS[colour], rng, 10), dtype=np.float32)
    if texture == "noise":
        arr += rng.normal(0.0, 9.0, size=(size, size, 1))
    elif texture == "stripes":
        period = int(rng.integers(6, 14)) * SUPERSAMPLE
        yy, xx = np.mgrid[0:size, 0:size]
        arr += np.where(((xx + yy) // period) % 2 == 0, 12.0, -12.0)[..., None]
    elif texture == "grid":
        period = int(rng.integers(8, 16)) * SUPERSAMPLE
        yy, xx = np.mgrid[0:size, 0:size]
        lines = ((xx % period) < SUPERSAMPLE) | ((yy % period) < SUPERSAMPLE)
        arr += np.where(lines, 18.0, 0.0)[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def render(
    objects: list[ObjectSpec],
    bg_colour: str,
    texture: str,
    image_size: int,
    rng: np.random.Generator,
) -> Image.Image:
    """Render a scene; object coordinates are in final-image pixels."""
    big = image_size * SUPERSAMPLE
    canvas = background(big, bg_colour, texture, rng)
    for obj in objects:
        draw_object(canvas, obj, rng)
    return canvas.resize((image_size, image_size), Image.Resampling.BOX)
