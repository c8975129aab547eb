"""photod plugin: a pipeline stage that finds blurry photos."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from photod.pipeline.stage import BaseStage
from photod.pipeline.task import PhotoTask, Tag
from photod.plugins import hookimpl

NAME = "sharpness"  # the plugin's name: its entry point and its settings section
MODEL_ID = "photod-sharpness/1"


class SharpnessSettings(BaseModel):
    """``plugins.settings.sharpness`` in photod's configuration."""

    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(
        60.0, gt=0, description="photos scoring below it are tagged blurry (1024 px scale)"
    )


def sharpness(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian: low for blurred, high for crisp detail."""
    g = gray.astype(np.float32)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


class SharpnessStage(BaseStage):
    """Scores each photo's sharpness; blurry ones get the tag ``blurry``."""

    name: ClassVar[str] = NAME
    slot: ClassVar[str] = "after_heads"  # needs only the working image; before captioning

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    @classmethod
    def create(cls, app) -> SharpnessStage:
        """Reads ``plugins.settings.sharpness`` (validated at start-up) from the host app."""
        return cls(app.plugins.settings(NAME, SharpnessSettings).threshold)

    def process(self, task: PhotoTask) -> None:
        """Tag the photo ``blurry`` (with its score) if it scores below the threshold."""
        gray = np.asarray(task.image.convert("L"))
        # The working image's size varies with the photo; scale the score to a 1024 px long
        # side so one threshold fits all (the Laplacian variance grows with resolution).
        score = sharpness(gray) * (max(gray.shape) / 1024.0) ** 2
        if score < self.threshold:
            task.tags.append(Tag(value="blurry", source=NAME, model=MODEL_ID, score=score))


@hookimpl
def photod_stages() -> list[type]:
    """Register the sharpness stage."""
    return [SharpnessStage]


@hookimpl
def photod_settings() -> type[BaseModel]:
    """The settings the plugin accepts."""
    return SharpnessSettings
