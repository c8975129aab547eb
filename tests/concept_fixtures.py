"""Fixtures shared by the concept, head and face tests (real models, real SQLite).

Face photos are made from scikit-image's real photographs: ``astronaut()`` (Eileen Collins)
and ``camera()`` (the cameraman) are two different people.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from photod.app import App, build_app
from photod.config import Config, load_config
from photod.plugins import PluginRegistry

# Face centres (x, y) and sizes in the 512x512 originals, from dlib's detections.
FACES = {"astronaut": ((218, 120), 96), "camera": ((222, 158), 80)}

FACE_YAML = ""  # the defaults (HOG, threshold -0.3) find both people


def source_image(name: str) -> Image.Image:
    """The scikit-image photograph as an RGB PIL image."""
    from skimage import data

    arr = getattr(data, name)()
    if arr.dtype != np.uint8:  # some are boolean or float
        arr = (arr.astype(np.float32) * (255 if arr.max() <= 1 else 1)).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    return Image.fromarray(np.ascontiguousarray(arr[..., :3]))


def face_variant(name: str, seed: int, size: int = 240) -> Image.Image:
    """A new augmented crop around the person's face: shift, zoom, mirror, tilt, light."""
    rng = np.random.default_rng(seed)
    img = source_image(name)
    (cx, cy), face = FACES[name]
    half = face * rng.uniform(1.2, 1.7)
    cx += rng.uniform(-0.15, 0.15) * face
    cy += rng.uniform(-0.15, 0.15) * face
    crop = img.crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half)))
    crop = crop.rotate(float(rng.uniform(-8, 8)), resample=Image.BILINEAR)
    if rng.random() < 0.5:
        crop = ImageOps.mirror(crop)
    crop = ImageEnhance.Brightness(crop).enhance(float(rng.uniform(0.8, 1.2)))
    return crop.resize((size, size), Image.BILINEAR)


def composite(seed: int) -> Image.Image:
    """Both people side by side in one photo."""
    canvas = Image.new("RGB", (480, 240), (90, 90, 90))
    canvas.paste(face_variant("camera", seed), (0, 0))
    canvas.paste(face_variant("astronaut", seed + 1), (240, 0))
    return canvas


def save(img: Image.Image, path: Path) -> str:
    """Write a JPEG, return its path as a string."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, quality=92)
    return str(path)


TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 1000, "width": 32, "heads": 2, "layers": 1},
}


def tiny_clip_dir(folder: Path, seed: int = 0) -> Path:
    """A real open_clip CLIP architecture from a tiny config, random weights, saved as a
    ``local-dir:`` model folder (no download): what a user's copied model folder looks like."""
    import json

    import open_clip
    import torch
    from safetensors.torch import save_file

    if (folder / "open_clip_model.safetensors").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = open_clip.CLIP(**TINY_CLIP)
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()},
        str(folder / "open_clip_model.safetensors"),
    )
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP}))
    return folder


def make_config(tmp_path: Path, extra: str = "", clip_dir: Path | None = None) -> Config:
    """An isolated configuration with the tiny CLIP; ``extra`` YAML is appended."""
    clip_dir = tiny_clip_dir(clip_dir or tmp_path / "tiny-clip")
    root = tmp_path / "photos"
    root.mkdir(exist_ok=True)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"paths:\n  data_dir: {tmp_path / 'data'}\n  cache_dir: {tmp_path / 'cache'}\n"
        f"  state_dir: {tmp_path / 'state'}\n"
        f"library:\n  roots: [{root}]\n  debounce_seconds: 0.1\n  settle_seconds: 0.2\n"
        + FACE_YAML
        + f"clip:\n  model: local-dir:{clip_dir}\n"
        + extra
    )
    return load_config(cfg, environ={})


def builtin_registry() -> PluginRegistry:
    """The built-in heads, registered the way their entry point would be (no installed
    plugin: the colour and sharpness plugins stay out unless a test adds them)."""
    import photod.heads.builtin

    reg = PluginRegistry()
    reg.register(photod.heads.builtin, "builtin_heads", "test")
    return reg


@pytest.fixture
def concept_app(tmp_path: Path):
    """An app over a fresh index with the built-in heads registered."""
    with build_app(make_config(tmp_path), plugins=builtin_registry()) as app:
        yield app


def index_photos(app: App, paths: list[str], *, stages=None) -> list:
    """Run the real pipeline (ingest -> heads -> index) over ``paths``; return the stages."""
    from photod.index import jobs

    stages = app.stages if stages is None else stages
    app.index.write(lambda db: [jobs.enqueue(db, jobs.INDEX, p) for p in paths])
    run_queue(app, stages)
    return stages


def run_queue(app: App, stages=None, *, listeners: bool = False) -> int:
    """Process every queued job sequentially; return how many ran.

    ``listeners=True`` runs the app's post-commit listeners too (metadata write-back), as
    the daemon does; by default only the stages run.
    """
    from photod.processor import JobProcessor

    stages = app.stages if stages is None else stages
    processor = JobProcessor(
        app.index,
        app.config.pipeline,
        stages,
        threaded=False,
        listeners=app.listeners if listeners else (),
    ).start()
    total = 0
    try:
        while n := processor.pump():
            total += n
    finally:
        processor.close()
    return total


def detections(app: App, path: str) -> list[tuple]:
    """(concept name, face box x, version, head model) of a photo's detection rows."""
    return (
        app.index.reader()
        .execute(
            "SELECT c.name, f.x, d.concept_version, d.head_model FROM detections d "
            "JOIN photos p ON p.id = d.photo_id JOIN concepts c ON c.id = d.concept_id "
            "LEFT JOIN faces f ON f.id = d.face_id WHERE p.path = ? ORDER BY c.name",
            (path,),
        )
        .fetchall()
    )
