"""The look estimate: what a concept's training photos share, apart from their backgrounds."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from photod.vlm.look import shared_look


def _photo(gen, background, objects, positions, patches=36) -> torch.Tensor:
    """A ``(patches, D)`` photo: its background vector plus noise everywhere, each object's
    vector over three neighbouring patches (as many as the estimate takes per photo)."""
    x = background + 0.05 * torch.randn(patches, background.shape[0], generator=gen)
    for obj, at in zip(objects, positions, strict=True):
        x[at : at + 3] = obj + 0.05 * torch.randn(3, obj.shape[0], generator=gen)
    return x


def test_the_look_is_the_object_every_photo_holds():
    gen = torch.Generator().manual_seed(0)
    d = 24
    concept, common_bg = torch.randn(d, generator=gen), torch.randn(d, generator=gen)
    photos = []
    for at in (3, 17, 30, 9):
        background = common_bg + 0.3 * torch.randn(d, generator=gen)  # similar backgrounds
        other = torch.randn(d, generator=gen)  # an object only this photo has
        photos.append(_photo(gen, background, [concept, other], [at, (at + 12) % 33]))
    look = shared_look(photos)
    assert look is not None and look.shape == (d,)
    assert F.cosine_similarity(look, concept, dim=0) > 0.99
    # The other objects and the backgrounds are not in it.
    assert F.cosine_similarity(look, common_bg, dim=0) < 0.5


def test_one_photo_has_no_shared_look():
    gen = torch.Generator().manual_seed(1)
    photo = _photo(gen, torch.randn(8, generator=gen), [torch.randn(8, generator=gen)], [4])
    assert shared_look([photo]) is None
    assert shared_look([]) is None
