"""The places stage: name the place where each photo with a GPS position was taken."""

from __future__ import annotations

from photod.ingest.places import Geocoder
from photod.pipeline.stage import BaseStage
from photod.pipeline.task import PhotoTask


class PlacesStage(BaseStage):
    """Fill ``task.info.place`` from the photo's GPS position (offline reverse geocoding)."""

    name = "places"
    runs_on_unchanged = True  # a re-indexed unchanged photo still gets its place stored

    def __init__(self, geocoder: Geocoder) -> None:
        self._geocoder = geocoder

    def process(self, task: PhotoTask) -> None:
        """Look up the place of the photo's position, if it has one."""
        info = task.info
        if info is not None and info.latitude is not None and info.longitude is not None:
            info.place = self._geocoder.place(info.latitude, info.longitude)
