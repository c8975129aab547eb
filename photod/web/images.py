"""Photo files by id only, and the thumbnail cache.

A request names a photo or a face by its id; the file's path comes from the index and must
resolve (symlinks followed) to a regular file inside one of the library roots, so no request
can make photod read anything else. Thumbnails, larger renditions and face crops are made once
per content hash (a changed photo has a new hash), with the EXIF orientation applied, and
kept under ``<cache_dir>/web``; :meth:`ImageCache.sweep` removes those of photos that left.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PIL import Image, ImageOps

log = logging.getLogger(__name__)

LARGE_SIZE = 1600  # the photo page's rendition (longest side)
FACE_SIZE = 160


class OutsideLibrary(Exception):
    """The indexed path is not a regular file inside the library roots (now)."""


def library_file(path: str, roots: list[Path]) -> Path:
    """The real file behind an indexed ``path`` if it lies inside one of ``roots``."""
    try:
        real = Path(path).resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # gone, or a symlink loop
        raise OutsideLibrary(f"{path}: {exc}") from exc
    if not real.is_file():
        raise OutsideLibrary(f"{path}: not a regular file")
    for root in roots:
        try:
            base = root.expanduser().resolve(strict=True)
        except OSError:
            continue
        if real.is_relative_to(base):
            return real
    raise OutsideLibrary(f"{path} resolves to {real}, outside the library folders")


class ImageCache:
    """JPEG renditions of library photos, made on first request and kept by content hash."""

    def __init__(self, cache_dir: Path, roots: list[Path], size: int, quality: int) -> None:
        self.dir = cache_dir / "web"
        self.roots = roots
        self.size = size
        self.quality = quality
        self.hits = self.misses = 0

    def _file(self, kind: str, key: str) -> Path:
        return self.dir / kind / key[:2] / f"{key}.jpg"

    def original(self, path: str) -> Path:
        """The photo file itself (checked to lie inside the library)."""
        return library_file(path, self.roots)

    def thumbnail(self, path: str, content_hash: str, *, large: bool = False) -> Path:
        """The cached thumbnail (or the large rendition) of the photo at ``path``."""
        size = LARGE_SIZE if large else self.size
        target = self._file(f"{size}", content_hash)
        return self._cached(target, path, lambda img: _fit(img, size))

    def face(self, path: str, content_hash: str, box: tuple[float, float, float, float]) -> Path:
        """A square crop around a face (normalised box in the oriented photo)."""
        key = content_hash + "-" + "-".join(f"{v:.4f}" for v in box)
        target = self._file("faces", key)
        return self._cached(target, path, lambda img: _fit(_crop(img, box), FACE_SIZE))

    def _cached(self, target: Path, path: str, render) -> Path:
        if target.exists():
            self.hits += 1
            return target
        self.misses += 1
        source = library_file(path, self.roots)
        with Image.open(source) as img:
            img.draft("RGB", (LARGE_SIZE, LARGE_SIZE))  # JPEG: decode at a reduced size
            out = render(ImageOps.exif_transpose(img).convert("RGB"))
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        out.save(tmp, "JPEG", quality=self.quality, optimize=True)
        os.replace(tmp, target)  # readers see the whole file or none
        return target

    def sweep(self, present: set[str]) -> int:
        """Delete the renditions of contents no indexed photo has any more; return how many."""
        removed = 0
        if not self.dir.exists():
            return 0
        for f in self.dir.glob("*/*/*.jpg"):
            if f.stem.split("-", 1)[0] not in present:
                f.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.info("removed %d thumbnail(s) of photos no longer in the index", removed)
        return removed


def _fit(img: Image.Image, size: int) -> Image.Image:
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    return img


def _crop(img: Image.Image, box: tuple[float, float, float, float]) -> Image.Image:
    x, y, w, h = box
    cx, cy = (x + w / 2) * img.width, (y + h / 2) * img.height
    half = max(w * img.width, h * img.height) * 0.75  # some context around the face
    return img.crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half)))
