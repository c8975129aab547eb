"""What the evaluation harness evaluates: the ``Personalizer`` protocol.

A personalizer learns something per concept from a few images (``train``) and captions
images given, per image, the trained states of the concepts whose head fired there
(``caption``). The harness decides which concepts fire (``oracle``: the ones present;
``always``: the evaluated one on every photo), so the communicate stage is measured on its
own; a recognition head can later decide firing through the same ``fired`` argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from PIL import Image


@dataclass(frozen=True)
class ConceptInfo:
    """A concept as the harness knows it.

    ``identifier`` is the word the caption should contain (``sks``, a person's name);
    ``class_word``/``class_phrase`` replace it before similarity metrics.
    """

    key: str
    identifier: str
    class_word: str
    class_phrase: str
    kind: str = "object"


@runtime_checkable
class Personalizer(Protocol):
    """A personalization method under evaluation."""

    name: str

    def train(
        self, concept: ConceptInfo, images: Sequence[Image.Image], targets: Sequence[Sequence[str]]
    ) -> Any:
        """Learn ``concept`` from its training images and target captions (several per
        image allowed; each contains the identifier). Returns an opaque state."""
        ...

    def caption(self, images: Sequence[Image.Image], fired: Sequence[Sequence[Any]]) -> list[str]:
        """One caption per image; ``fired[i]`` holds the states (from :meth:`train`) of the
        concepts recognised in image ``i`` (empty: behave exactly like the base model)."""
        ...
