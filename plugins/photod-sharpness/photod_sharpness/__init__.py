"""photod plugin: a pipeline stage that finds blurry photos."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from photod.pipeline.stage import HEADS, BaseStage
from photod.pipeline.task import Answer, PhotoTask
from photod.plugins import hookimpl

MODEL_ID = "photod-sharpness/1"
QUESTION = "Is the photo blurry?"


def sharpness(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian: low for blurred, high for crisp detail."""
    g = gray.astype(np.float32)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


class SharpnessStage(BaseStage):
    """Scores each photo's sharpness; blurry ones get a searchable answer row."""

    name: ClassVar[str] = "sharpness"
    position: ClassVar[int] = HEADS + 50  # needs only the working image; before captioning

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    @classmethod
    def create(cls, services) -> SharpnessStage:
        """Reads ``plugins.settings.sharpness.threshold`` (default 60)."""
        settings = services.config.plugins.settings.get("sharpness", {})
        return cls(float(settings.get("threshold", 60.0)))

    def process(self, task: PhotoTask) -> None:
        """Record the score in ``task.extras`` and tag the photo if it is blurry."""
        gray = np.asarray(task.image.convert("L"))
        # The working image's size varies with the photo; scale the score to a 1024 px long
        # side so one threshold fits all (the Laplacian variance grows with resolution).
        score = sharpness(gray) * (max(gray.shape) / 1024.0) ** 2
        task.extras["sharpness"] = score
        if score < self.threshold:
            task.answers.append(
                Answer(question=QUESTION, answer=f"yes, blurry ({score:.0f})", model=MODEL_ID)
            )


@hookimpl
def photod_stages() -> list[type]:
    """Register the sharpness stage."""
    return [SharpnessStage]
