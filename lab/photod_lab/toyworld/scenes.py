"""Seeded toy scenes: 1 to 3 coloured shapes, a canonical caption and question/answer pairs.

Captions only state a relation where the offset is unambiguous, because layouts are sampled
so that it always is: a single object, a row of 2-3 objects ordered left to right
("a red circle left of a blue square left of a green star"), or a column of two objects
("a red circle above a blue square"). Shapes within a scene are distinct, so questions can
refer to an object by its shape.

Some ordinary objects are *named*: drawn with a black outline and captioned with a name from
:data:`NAMES` instead of their description. This is what lets a toy LM emit name-like
words at all, so that concept identifiers can be drawn from words it already produces.

Some ordinary objects also carry a *decoration* (a dot, stripes, a hat...) that the caption
ignores, the way a real caption says "a mug" whatever is printed on it. A base model trained
on them describes a decorated user concept generically by its shape and colour instead of
misreading a detail it has never seen. The exact looks of the user concepts are kept out
(``avoid``), so a concept still never appears in base data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from photod_lab.toyworld.render import (
    BACKGROUNDS,
    COLOURS,
    SHAPES,
    TEXTURES,
    Decoration,
    ObjectSpec,
    render,
)

BASE_COLOURS = ("red", "green", "blue", "yellow", "purple", "white")
# Named ordinary objects: (shape, colour) -> name. The outline marks an object as named.
NAMES: dict[tuple[str, str], str] = {
    ("circle", "red"): "bob",
    ("square", "blue"): "max",
    ("triangle", "yellow"): "luna",
    ("star", "green"): "rex",
    ("person", "purple"): "kai",
    ("circle", "white"): "zoe",
    ("square", "green"): "leo",
    ("triangle", "purple"): "mia",
    ("person", "blue"): "sam",
    ("star", "white"): "ivy",
    ("square", "red"): "tom",
    ("person", "yellow"): "ada",
}
COUNT_WORDS = ("zero", "one", "two", "three")
# Decorations an ordinary object of each shape may carry (never "outline": it marks names).
DECORATIONS_BY_SHAPE: dict[str, tuple[str, ...]] = {
    "circle": ("dot", "ring", "stripes", "checker"),
    "square": ("dot", "ring", "stripes", "checker"),
    "triangle": ("dot", "tips", "stripes", "checker"),
    "star": ("dot", "tips", "stripes", "checker"),
    "person": ("hat", "belly"),
}
PATTERN_COLOURS = ("white", "black")
#: A look to keep out of base data: (shape, colour, decoration).
Look = tuple[str, str, Decoration]


@dataclass(frozen=True)
class SceneObject:
    """An object placed in a scene with the phrase the caption uses for it."""

    spec: ObjectSpec
    phrase: str
    concept: str | None = None

    @property
    def outlined(self) -> bool:
        """Drawn with the outline that marks a named object (captioned by its name)."""
        return any(d.kind == "outline" for d in self.spec.decorations)


@dataclass
class Scene:
    """A rendered-on-demand scene; ``layout`` is single, row or column."""

    objects: list[SceneObject]
    layout: str
    background: str
    texture: str
    image_size: int
    render_seed: int
    qa: list[tuple[str, str]] = field(default_factory=list)

    def caption(self, phrases: dict[int, str] | None = None) -> str:
        """The canonical caption; ``phrases`` overrides the phrase of objects by index."""
        words = [(phrases or {}).get(i, o.phrase) for i, o in enumerate(self.objects)]
        joiner = " above " if self.layout == "column" else " left of "
        return joiner.join(words)

    def image(self) -> Image.Image:
        """Render the scene (deterministic: uses the scene's own seed)."""
        rng = np.random.default_rng(self.render_seed)
        return render(
            [o.spec for o in self.objects], self.background, self.texture, self.image_size, rng
        )

    @property
    def concepts(self) -> list[str]:
        """Names of the user concepts present in the scene, in caption order."""
        return [o.concept for o in self.objects if o.concept]


def describe(shape: str, colour: str) -> str:
    """The generic phrase for an object: ``a red circle``."""
    return f"a {colour} {shape}"


def _positions(
    rng: np.random.Generator, sizes: list[float], layout: str, image_size: int
) -> list[tuple[float, float]] | None:
    """Sample centres so that the layout's relation is unambiguous; None if it failed."""
    m = 2.0
    lo = [s + m for s in sizes]
    hi = [image_size - s - m for s in sizes]
    if layout == "single":
        return [(rng.uniform(lo[0], hi[0]), rng.uniform(lo[0], hi[0]))]
    axis = 0 if layout == "row" else 1
    for _ in range(50):
        main = sorted(rng.uniform(lo[i], hi[i]) for i in range(len(sizes)))
        gaps_ok = all(
            main[i + 1] - main[i] >= sizes[i] + sizes[i + 1] + 3 for i in range(len(sizes) - 1)
        )
        if not gaps_ok:
            continue
        cross = [rng.uniform(lo[i], hi[i]) for i in range(len(sizes))]
        # The perpendicular offset must stay well below the main-axis offset.
        if all(
            abs(cross[i + 1] - cross[i]) <= 0.5 * (main[i + 1] - main[i])
            for i in range(len(sizes) - 1)
        ):
            return [(a, b) if axis == 0 else (b, a) for a, b in zip(main, cross, strict=False)]
    return None


def sample_layout(rng: np.random.Generator, n: int) -> str:
    """Pick a layout for ``n`` objects: rows of 2-3 objects or a column of 2."""
    if n == 1:
        return "single"
    if n == 3:
        return "row"
    return "row" if rng.random() < 0.6 else "column"


def place(
    rng: np.random.Generator,
    items: list[tuple[str, str, tuple[Decoration, ...], str, str | None]],
    image_size: int,
    layout: str | None = None,
) -> tuple[list[SceneObject], str]:
    """Place ``items`` (shape, colour, decorations, phrase, concept) on a valid layout.

    Returns the objects in caption order (left to right, or top to bottom).
    """
    n = len(items)
    scale = image_size / 64.0
    while True:
        lay = layout or sample_layout(rng, n)
        sizes = [float(rng.uniform(6.5, 10.5 if n < 3 else 9.0)) * scale for _ in items]
        pos = _positions(rng, sizes, lay, image_size)
        if pos is not None:
            break
    order = rng.permutation(n)
    objs = []
    for k, (x, y) in enumerate(pos):
        shape, colour, decos, phrase, concept = items[order[k]]
        objs.append(SceneObject(ObjectSpec(shape, colour, x, y, sizes[k], decos), phrase, concept))
    return objs, lay


def places(layout: str, n: int) -> list[str] | None:
    """Each object's place in its layout, in caption order (None for a single object)."""
    return {
        "row": ["left", "right"] if n == 2 else ["left", "middle", "right"],
        "column": ["top", "bottom"],
    }.get(layout)


def qa_pairs(objects: list[SceneObject], layout: str) -> list[tuple[str, str]]:
    """Question/answer pairs about a scene's objects (questions name objects by shape)."""
    qa = [("how many objects are there ?", COUNT_WORDS[len(objects)])]
    where = places(layout, len(objects))
    for i, o in enumerate(objects):
        qa.append((f"what color is the {o.spec.shape} ?", o.spec.colour))
        if where:
            qa.append((f"where is the {o.spec.shape} ?", where[i]))
    return qa


def scene_from_items(
    rng: np.random.Generator, items, image_size: int, layout: str | None = None
) -> Scene:
    """Build a full scene (background, layout, QA) around ``items`` (see :func:`place`)."""
    objs, lay = place(rng, items, image_size, layout)
    return Scene(
        objs,
        lay,
        str(rng.choice(list(BACKGROUNDS))),
        str(rng.choice(TEXTURES)),
        image_size,
        int(rng.integers(0, 2**31 - 1)),
        qa_pairs(objs, lay),
    )


def random_decoration(
    rng: np.random.Generator, shape: str, colour: str, avoid: frozenset[Look]
) -> tuple[Decoration, ...]:
    """One decoration fitting ``shape``, in a colour other than the object's; none if the
    draw hits a look in ``avoid``."""
    kind = str(rng.choice(DECORATIONS_BY_SHAPE[shape]))
    # Stripes and checks cover half the object: in a second colour, "a yellow circle" with
    # green stripes would be as green as it is yellow. Neutral patterns keep it yellow.
    palette = PATTERN_COLOURS if kind in ("stripes", "checker") else tuple(COLOURS)
    deco = Decoration(kind, str(rng.choice([c for c in palette if c != colour])))
    return () if (shape, colour, deco) in avoid else (deco,)


def ordinary_items(
    rng: np.random.Generator,
    n: int,
    named_prob: float,
    exclude_shapes: tuple[str, ...] = (),
    decorated_prob: float = 0.0,
    avoid: frozenset[Look] = frozenset(),
) -> list:
    """``n`` ordinary objects with distinct shapes; some are named (outlined) objects and,
    with ``decorated_prob``, some unnamed ones carry a decoration the caption ignores."""
    shapes = rng.choice([s for s in SHAPES if s not in exclude_shapes], size=n, replace=False)
    items = []
    for shape in shapes:
        colour = str(rng.choice(BASE_COLOURS))
        name = NAMES.get((str(shape), colour))
        if name and rng.random() < named_prob:
            items.append((str(shape), colour, (Decoration("outline"),), name, None))
            continue
        decos: tuple[Decoration, ...] = ()
        # No draw at all when decorations are off: the eval datasets' streams stay as they were.
        if decorated_prob and rng.random() < decorated_prob:
            decos = random_decoration(rng, str(shape), colour, avoid)
        items.append((str(shape), colour, decos, describe(str(shape), colour), None))
    return items


class SceneGenerator:
    """Deterministic stream of base (concept-free) scenes for a given seed."""

    def __init__(
        self,
        seed: int,
        image_size: int = 64,
        named_prob: float = 0.25,
        max_objects: int = 3,
        decorated_prob: float = 0.0,
        avoid: frozenset[Look] = frozenset(),
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.image_size = image_size
        self.named_prob = named_prob
        self.max_objects = max_objects
        self.decorated_prob = decorated_prob
        self.avoid = avoid

    def sample(self, n_objects: int | None = None) -> Scene:
        """One scene with ``n_objects`` (default: uniform over 1..max_objects)."""
        n = n_objects or int(self.rng.integers(1, self.max_objects + 1))
        items = ordinary_items(
            self.rng, n, self.named_prob, decorated_prob=self.decorated_prob, avoid=self.avoid
        )
        return scene_from_items(self.rng, items, self.image_size)

    def batch(self, size: int, n_objects: int | None = None) -> list[Scene]:
        """``size`` scenes."""
        return [self.sample(n_objects) for _ in range(size)]
