"""Dense auxiliary supervision of a toy VLM's vision tower while it trains from scratch.

Through the caption loss alone a ViT learns shapes slowly: after ~5000 steps the toy LLaVA
named single objects' colours right 99% of the time and their shapes 49%, because a caption
carries one shape word per object. During training, a linear probe on every patch token of
the vision tower's output predicts what lies under that patch (the object's shape, colour
and whether it is a named, outlined object, or background): 64 labels per image instead of
one. The probe is a training aid only and is never saved; the fixture stays the stock
architecture, loaded by ``from_pretrained`` like any model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from photod_lab.toyworld.render import SHAPES
from photod_lab.toyworld.scenes import BASE_COLOURS, Scene, places

SHAPE_CLASSES = ("background", *SHAPES)
COLOUR_CLASSES = ("background", *BASE_COLOURS)
#: The object's place in its layout, the answer to "where is the ... ?" ("alone" for a
#: single object).
PLACE_CLASSES = ("background", "alone", "left", "middle", "right", "top", "bottom")
#: A patch belongs to an object when its centre is this close to the object's centre,
#: relative to the object's size (its half-extent): the object's core, not its corners.
COVER = 0.85


def patch_labels(
    scenes: Sequence[Scene], image_size: int, patch_size: int
) -> dict[str, torch.Tensor]:
    """Per patch (row-major, as the ViT orders them): shape, colour, outline and place labels."""
    grid = image_size // patch_size
    centres = (torch.arange(grid, dtype=torch.float32) + 0.5) * patch_size
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    xs, ys = xs.reshape(-1), ys.reshape(-1)
    shape = torch.zeros(len(scenes), grid * grid, dtype=torch.long)
    colour = torch.zeros_like(shape)
    named = torch.zeros_like(shape)
    place = torch.zeros_like(shape)
    for b, scene in enumerate(scenes):
        where = places(scene.layout, len(scene.objects)) or ["alone"]
        for obj, obj_place in zip(scene.objects, where, strict=True):
            spec = obj.spec
            inside = (xs - spec.cx) ** 2 + (ys - spec.cy) ** 2 <= (COVER * spec.size) ** 2
            shape[b, inside] = SHAPE_CLASSES.index(spec.shape)
            if spec.colour in COLOUR_CLASSES:
                colour[b, inside] = COLOUR_CLASSES.index(spec.colour)
            named[b, inside] = int(obj.outlined)
            place[b, inside] = PLACE_CLASSES.index(obj_place)
    return {"shape": shape, "colour": colour, "named": named, "place": place}


class DenseProbe(nn.Module):
    """Linear read-outs of shape, colour, outline and place from each patch token.

    The place read-out (added for the toy LLaVA's "where is the ... ?" answers) asks each
    patch to know its object's rank in the layout, which the bidirectional ViT can see and
    the causal LM, reading patches in raster order, finds hard to work out. The tower learns
    it; the LLaVA projector passed little of it on until probed itself (``--probe-on
    projector``), and the LM only answers "where" with :mod:`photod_lab.toyworld.asked` as well
    (docs/toyworld.md).

    ``normalised`` reads each token after RMS normalisation through unit-norm weight rows,
    as the LM's attention reads it. A plain linear probe is satisfied by a label hidden in a
    direction of tiny variance (its weights just grow); this one only scores well when the
    label is a large part of the token, so the trained module must make it one.
    """

    def __init__(self, width: int, normalised: bool = False) -> None:
        super().__init__()
        self.normalised = normalised
        self.heads = nn.ModuleDict(
            {
                "shape": nn.Linear(width, len(SHAPE_CLASSES)),
                "colour": nn.Linear(width, len(COLOUR_CLASSES)),
                "named": nn.Linear(width, 2),
                "place": nn.Linear(width, len(PLACE_CLASSES)),
            }
        )

    def loss(self, tokens: torch.Tensor, labels: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean cross-entropy over patches, summed over the read-outs.

        The place read-out is scored on object patches only: averaged over all patches,
        the easy background dominated it and a tower continued from a fixture never
        learnt places (a fresh linear probe read them 40% right after 18 minutes).
        """
        total = torch.zeros((), device=tokens.device)
        for name, head in self.heads.items():
            target = labels[name].flatten().to(tokens.device)
            if name == "place":
                target = target.masked_fill(target == 0, -100)  # ignored by cross_entropy
                if not (target >= 0).any():
                    continue
            total = total + F.cross_entropy(self._read(head, tokens).flatten(0, 1), target)
        return total

    def _read(self, head: nn.Linear, tokens: torch.Tensor) -> torch.Tensor:
        """One read-out's logits (scale-free when ``normalised``)."""
        if not self.normalised:
            return head(tokens)
        return F.linear(rms_normalised(tokens), F.normalize(head.weight, dim=-1), head.bias)


def rms_normalised(tokens: torch.Tensor) -> torch.Tensor:
    """Each token divided by its root mean square, as a Llama RMSNorm does before its gain."""
    return tokens * tokens.pow(2).mean(-1, keepdim=True).add(1e-6).rsqrt()


def vision_module(model) -> nn.Module:
    """The vision tower whose output the language side reads (BLIP-2 or LLaVA)."""
    if hasattr(model, "vision_model"):
        return model.vision_model
    return model.model.vision_tower


#: Where the probe may read: the vision tower's output, or (LLaVA) the projector's, i.e. the
#: tokens the LM reads. In the toy-llava of commit 74e56dd, places explained 36% of the object
#: patches' variance at the tower's output and 1.1% at the projector's (docs/toyworld.md).
PROBE_POINTS = ("tower", "projector")


@contextmanager
def captured_patch_tokens(model, at: str = "tower") -> Iterator[list[torch.Tensor]]:
    """Collect the patch tokens of each forward pass, at the vision tower's output (class
    token dropped) or at LLaVA's projector output (``at="projector"``)."""
    seen: list[torch.Tensor] = []
    if at == "projector":
        if not hasattr(model, "model") or not hasattr(model.model, "multi_modal_projector"):
            raise ValueError("only LLaVA has a projector to probe")
        module = model.model.multi_modal_projector

        def pick(output):
            return output  # LLaVA dropped the class token before projecting
    elif at == "tower":
        module = vision_module(model)
        vision = model.config.vision_config
        patches = (vision.image_size // vision.patch_size) ** 2

        def pick(output):
            hidden = output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]
            # Tokens appended after the patches (photod_lab.toyworld.naming) are not patches.
            return hidden[:, 1 : 1 + patches]
    else:
        raise ValueError(f"probe point {at!r}: one of {PROBE_POINTS}")

    handle = module.register_forward_hook(lambda _module, _args, output: seen.append(pick(output)))
    try:
        yield seen
    finally:
        handle.remove()
