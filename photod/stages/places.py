"""The places stage: name the place where each photo with a GPS position was taken."""

from __future__ import annotations

import logging

from photod.ingest.places import Geocoder, available
from photod.pipeline.stage import INGEST, BaseStage
from photod.pipeline.task import PhotoTask
from photod.services import Services

log = logging.getLogger(__name__)


class PlacesStage(BaseStage):
    """Fill ``task.info.place`` from the photo's GPS position (offline reverse geocoding)."""

    name = "places"
    position = INGEST + 10
    runs_on_unchanged = True  # a re-indexed unchanged photo still gets its place stored

    def __init__(self, geocoder: Geocoder) -> None:
        self._geocoder = geocoder

    @classmethod
    def create(cls, services: Services) -> PlacesStage | None:
        """On when the geocoding package (the ``places`` extra) is installed."""
        if not available():
            log.info("places: reverse-geocode is not installed; photos get no place names")
            return None
        return cls(Geocoder())

    def process(self, task: PhotoTask) -> None:
        """Look up the place of the photo's position, if it has one."""
        info = task.info
        if info is not None and info.latitude is not None and info.longitude is not None:
            info.place = self._geocoder.place(info.latitude, info.longitude)
