"""A training aid inside the toy LLaVA's LM: which patches show the object asked about?

Until commit c095437 (2026-11-22) the toy LLaVA answered "where is the X ?" at chance
(always "left" in a 2-object row, whichever object was asked about) although its LM input
carried each object's place, and it answered "what color is the X ?" right 97-99% of the
time. Reading a place needs the LM to pick out the asked-about object's patches and read
their place. Its colour answers had found their own way there, but "where" questions never
got one, and the plain answer loss did not build it: a gradient on place only appears once
the answer position attends to the right object, and that attention only pays once place
flows through it (docs/research/2026-toyworld.md has the runs).

This aid gives the LM that first step directly. After the LM's second layer
(``--asked-layer 1``, counted from 0), a linear probe on each image token must tell whether
the patch belongs to the object the sample's question names (colour and "where" questions
alike). The patch tokens come after the question in the prompt, so the LM can work this out
by attending from each patch to the question's shape word. Once every patch carries an
"asked about" mark, finding the object is the same for every question type. Like
:mod:`photod_lab.toyworld.dense`, the probe only exists during training; the saved model is the
stock architecture.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from photod_lab.toyworld.dense import SHAPE_CLASSES, patch_labels, rms_normalised
from photod_lab.toyworld.models import language_layers
from photod_lab.toyworld.render import SHAPES
from photod_lab.toyworld.scenes import Scene

#: A sample with no object question (a caption, "how many ...") has this label on every patch.
NO_QUESTION = -1.0


def asked_shape(question: str | None) -> str | None:
    """The shape a question names ("where is the star ?" -> "star"); None if it names none."""
    if not question:
        return None
    return next((w for w in question.split() if w in SHAPES), None)


def asked_labels(
    scenes: Sequence[Scene],
    questions: Sequence[str | None],
    image_size: int,
    patch_size: int,
) -> torch.Tensor:
    """Per patch: 1 on the object the sample's question names, 0 elsewhere, or
    :data:`NO_QUESTION` on every patch of a sample whose question names no object."""
    shapes = patch_labels(scenes, image_size, patch_size)["shape"]
    labels = torch.full(shapes.shape, NO_QUESTION)
    for b, question in enumerate(questions):
        shape = asked_shape(question)
        if shape is not None:
            # Shapes are distinct within a scene, so the shape names one object.
            labels[b] = (shapes[b] == SHAPE_CLASSES.index(shape)).float()
    return labels


@contextmanager
def captured_lm_states(model, layer: int) -> Iterator[list[torch.Tensor]]:
    """Collect the hidden states that LM decoder layer ``layer`` outputs in each forward
    pass (all positions; see :func:`image_positions`)."""
    seen: list[torch.Tensor] = []

    def keep(_module, _args, output) -> None:
        seen.append(output[0] if isinstance(output, tuple) else output)

    handle = language_layers(model)[layer].register_forward_hook(keep)
    try:
        yield seen
    finally:
        handle.remove()


def image_positions(
    states: torch.Tensor, input_ids: torch.Tensor, image_token_id: int, patches: int
) -> torch.Tensor:
    """The states at the image's ``patches`` tokens: (batch, patches, width), in raster
    order. Placeholders after them (appended tokens, :mod:`photod_lab.toyworld.naming`) are
    left out."""
    is_image = input_ids == image_token_id
    first = is_image & (is_image.cumsum(dim=1) <= patches)
    return states[first].view(input_ids.shape[0], patches, states.shape[-1])


class AskedObjectProbe(nn.Module):
    """A linear read-out of "this patch shows the object asked about" from LM image states.

    It reads the states after RMS normalisation, as the next layer's attention does, so the
    mark has to be a sizeable part of each token rather than a faint direction.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.head = nn.Linear(width, 1)

    def loss(self, states: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy over the patches of the samples with an object question;
        zero when the batch has none."""
        keep = labels[:, 0] != NO_QUESTION
        if not keep.any():
            return torch.zeros((), device=states.device)
        logits = self.head(rms_normalised(states[keep])).squeeze(-1)
        return F.binary_cross_entropy_with_logits(logits, labels[keep].to(logits.device))
