"""A concept's look at the hook point, estimated from its training photos.

MyVLM starts each concept embedding from a random vector. A small LM that learnt to name an
object from an appended token (the toy fixtures, docs/toyworld.md) reads that token as the
object's *look* plus a code for the name: the look tells it which object in the image the
name belongs to. :func:`shared_look` estimates the look without any mask or box: the concept
is what its training photos have in common, and it stands out from each photo's background.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def shared_look(
    patches: Sequence[torch.Tensor], *, per_photo: int = 3, salient: int = 16
) -> torch.Tensor | None:
    """The mean hook-point feature of the patches the photos share, ``(D,)``.

    ``patches``: one ``(P, D)`` tensor of image-patch features per photo (no class token).
    In each photo, the ``salient`` patches farthest from its median patch are candidates
    (the median is the background, the most common thing in a photo). Each candidate is
    scored by its best cosine match among every other photo's candidates, averaged over
    those photos; the ``per_photo`` best of each photo are averaged, raw. None with fewer
    than two photos: one photo cannot tell its concept from its other objects.
    """
    if len(patches) < 2:
        return None
    feats = [p.detach().float() for p in patches]
    centred = [x - x.median(dim=0).values for x in feats]
    picks = [c.norm(dim=-1).topk(min(salient, c.shape[0])).indices for c in centred]
    cands = [F.normalize(c[i], dim=-1) for c, i in zip(centred, picks, strict=True)]
    chosen = []
    for n, mine in enumerate(cands):
        score = torch.stack(
            [(mine @ other.T).max(dim=1).values for m, other in enumerate(cands) if m != n]
        ).mean(dim=0)
        best = picks[n][score.topk(min(per_photo, score.shape[0])).indices]
        chosen.append(feats[n][best])
    return torch.cat(chosen).mean(dim=0)
