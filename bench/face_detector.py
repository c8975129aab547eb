"""Precision of the dlib face detector settings on scikit-image's real photographs.

Two photos hold one real face each (Eileen Collins in ``astronaut()``, the cameraman in
``camera()``, at the centres below); the others hold none. For each setting: real faces found,
false faces, precision (the table of docs/concepts.md).

Usage::

    python bench/face_detector.py
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from photod.config import DlibFacesConfig
from photod.faces.dlib_backend import DlibBackend

#: Face centres (x, y) in the 512x512 photos, and half the face's size.
FACES = {"astronaut": ((218, 120), 48), "camera": ((222, 158), 40)}
NO_FACE = [
    *("coffee", "chelsea", "rocket", "hubble_deep_field", "horse", "immunohistochemistry"),
    *("coins", "page", "text", "moon", "retina", "colorwheel", "grass", "gravel", "brick"),
    *("logo", "clock", "binary_blobs"),
]
SETTINGS = {
    "HOG, cut 0.0 (dlib's default)": DlibFacesConfig(hog_threshold=0.0, verify_below=None),
    "HOG, cut -0.3, no check": DlibFacesConfig(verify_below=None),
    "HOG, cut -0.13, no check": DlibFacesConfig(hog_threshold=-0.13, verify_below=None),
    "HOG -0.3 + CNN check below 0.5 (default)": DlibFacesConfig(),
}


def photo(name: str) -> Image.Image:
    """A scikit-image photograph as RGB."""
    from skimage import data

    arr = getattr(data, name)()
    if arr.dtype != np.uint8:
        arr = (arr.astype(np.float32) * (255 if arr.max() <= 1 else 1)).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    return Image.fromarray(np.ascontiguousarray(arr[..., :3]))


def is_real(name: str, box: tuple[float, float, float, float], size: tuple[int, int]) -> bool:
    """Whether a detection's centre lies on the photo's known face."""
    if name not in FACES:
        return False
    (cx, cy), half = FACES[name]
    x, y, w, h = box
    return abs((x + w / 2) * size[0] - cx) < half and abs((y + h / 2) * size[1] - cy) < half


def main() -> None:
    """Print one markdown row per setting."""
    photos = {n: photo(n) for n in [*FACES, *NO_FACE]}
    print("| detector | real faces found | false faces | precision |\n|---|---|---|---|")
    for label, cfg in SETTINGS.items():
        backend = DlibBackend(cfg)
        real = false = 0
        for name, img in photos.items():
            for face in backend.detect([img])[0]:
                ok = is_real(name, face.box, img.size)
                real += ok
                false += not ok
        prec = real / (real + false) if real + false else 0.0
        print(f"| {label} | {real} of {len(FACES)} | {false} | {100 * prec:.0f}% |", flush=True)


if __name__ == "__main__":
    main()
