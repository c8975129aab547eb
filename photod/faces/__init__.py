"""Face backends (dlib, insightface), chosen by the ``faces`` configuration section."""

from __future__ import annotations

from pathlib import Path

from photod.config import FacesConfig
from photod.faces.base import DEFAULT_THRESHOLDS, FaceBackend


def create_face_backend(cfg: FacesConfig, cache_dir: Path) -> FaceBackend:
    """The configured backend; its models load lazily on first use."""
    if cfg.backend == "insightface":
        from photod.faces.insightface_backend import InsightfaceBackend

        return InsightfaceBackend(
            cfg.insightface,
            cache_dir,
            min_face_px=cfg.min_face_px,
            idle_unload_seconds=cfg.idle_unload_seconds,
        )
    from photod.faces.dlib_backend import DlibBackend

    return DlibBackend(
        cfg.dlib, min_face_px=cfg.min_face_px, idle_unload_seconds=cfg.idle_unload_seconds
    )


def match_threshold(cfg: FacesConfig, backend: FaceBackend) -> float:
    """The configured distance cut-off, or the backend metric's default."""
    return cfg.threshold if cfg.threshold is not None else DEFAULT_THRESHOLDS[backend.metric]
