"""Shared hook plumbing: a set of hooks that is installed for exactly one model call.

Hooks are never left on a model: every injection is a context manager, so a model outside
one is the plain model, and images with no concept are bit-identical to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F


def normalise(vec: torch.Tensor) -> torch.Tensor:
    """The concept vector as MyVLM uses it: L2-normalised in every forward pass."""
    return F.normalize(vec.reshape(-1).float(), dim=-1)


def concept_slots(
    concepts: Sequence[Sequence[torch.Tensor]], dim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image concept vectors as ``(B, K, dim)`` slots plus a ``(B, K)`` mask.

    ``K`` is the most concepts any image has; an image with fewer gets zero slots that the
    mask switches off (an image whose head did not fire must not see the token at all).
    """
    k = max((len(c) for c in concepts), default=0)
    if k == 0:  # nothing to append (e.g. a training batch where no head fired)
        return torch.zeros(len(concepts), 0, dim), torch.zeros(len(concepts), 0, dtype=torch.bool)
    rows, mask = [], []
    for c in concepts:
        vecs = [normalise(v) for v in c]
        if any(v.numel() != dim for v in vecs):
            raise ValueError(f"concept embedding width differs from the hooked layer ({dim})")
        vecs += [torch.zeros(dim, device=vecs[0].device if vecs else None)] * (k - len(c))
        rows.append(torch.stack(vecs))
        mask.append([True] * len(c) + [False] * (k - len(c)))
    device = next((r.device for r in rows if r.requires_grad), rows[0].device)
    return torch.stack([r.to(device) for r in rows]), torch.tensor(mask, device=device)


_MISSING = object()


class HookSet:
    """Hook handles and instance-level ``forward`` overrides, all undone on exit."""

    def __init__(self) -> None:
        self._handles: list[Any] = []
        self._overridden: list[tuple[Any, str, Any]] = []

    def hook(self, handle: Any) -> None:
        """Keep a handle returned by ``register_*_hook``."""
        self._handles.append(handle)

    def override(self, module: Any, fn: Callable, name: str = "forward") -> None:
        """Shadow ``module.<name>`` with ``fn`` (an instance attribute) until exit."""
        # Remember an instance attribute already there (an enclosing injection's).
        self._overridden.append((module, name, vars(module).get(name, _MISSING)))
        setattr(module, name, fn)

    def close(self) -> None:
        """Remove every hook and override."""
        for h in self._handles:
            h.remove()
        for module, name, previous in reversed(self._overridden):
            if previous is _MISSING:
                delattr(module, name)
            else:
                setattr(module, name, previous)
        self._handles.clear()
        self._overridden.clear()

    def __enter__(self) -> HookSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
