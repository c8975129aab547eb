"""Offline reverse geocoding: the place a GPS position lies in, from a bundled GeoNames table.

``reverse-geocode`` (LGPL) ships GeoNames' table of the places with 1,000 or more people
(CC BY 4.0, about 3.4 MB compressed) and finds the nearest one with a k-d tree; nothing is
fetched from the network while its table is installed. Loading the table takes about a
second, so it happens on the first photo that has a position.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import threading
from typing import Any

log = logging.getLogger(__name__)

#: Farther than this from the nearest town, a position gets no place (the open sea, a pole).
MAX_DISTANCE_KM = 100.0
_EARTH_KM = 6371.0


def available() -> bool:
    """Whether the geocoding package is installed (the ``places`` extra)."""
    return importlib.util.find_spec("reverse_geocode") is not None


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def place_name(found: dict[str, Any]) -> str:
    """ "Intendente, Lisbon, Portugal": the town, its county and region, the country (each
    name once)."""
    parts = [found.get(k) for k in ("city", "county", "state", "country")]
    return ", ".join(dict.fromkeys(p for p in parts if p))


class Geocoder:
    """Names the place of a position; thread-safe, the table loaded on first use."""

    def __init__(self, max_distance_km: float = MAX_DISTANCE_KM) -> None:
        self.max_distance_km = max_distance_km
        self._lock = threading.Lock()

    def place(self, latitude: float, longitude: float) -> str | None:
        """The place at (``latitude``, ``longitude``), or None when no town is near."""
        import reverse_geocode  # the package keeps its one table once loaded

        with self._lock:  # the first call loads the table: once, whichever thread asks
            found = dict(reverse_geocode.search([(latitude, longitude)])[0])
        if _distance_km(latitude, longitude, found["latitude"], found["longitude"]) > (
            self.max_distance_km
        ):
            return None
        return place_name(found)
