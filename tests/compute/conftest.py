"""A real Ray cluster on loopback for the compute tests (:mod:`tests.compute.cluster`): a head
node and a second worker node, one CPU and a 100 MB object store each, stopped at the end.

Also the toy library these tests scan: small random photos plus photos with two real faces,
the toy CLIP and the toy BLIP-2 shipped with the lab (``lab/photod_lab/toyworld/fixtures``),
and the installed plugins (colour and sharpness tags), exactly as a local scan runs them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from photod.config import Config, load_config
from tests.compute.cluster import ROOT, local_cluster

FIXTURES = ROOT / "lab" / "photod_lab" / "toyworld" / "fixtures"


class Cluster:
    """The running test cluster: its GCS address."""

    def __init__(self, address: str) -> None:
        self.address = address


@pytest.fixture(scope="session")
def ray_cluster():
    """Head + worker node on 127.0.0.1, one CPU each (worker processes import this
    checkout's photod); this test process joins it as the driver."""
    import ray

    with local_cluster([1, 1]) as address:
        ray.init(address=address, namespace="photod", log_to_driver=False)
        try:
            yield Cluster(address)
        finally:
            ray.shutdown()


def library_yaml(tmp: Path, photos: Path, extra: str = "") -> str:
    """An isolated configuration over ``photos`` with the toy models; ``extra`` appended."""
    return (
        f"paths:\n  data_dir: {tmp / 'data'}\n  cache_dir: {tmp / 'cache'}\n"
        f"  state_dir: {tmp / 'state'}\n"
        f"library:\n  roots: [{photos}]\n"
        f"clip:\n  model: local-dir:{FIXTURES / 'toy-clip'}\n"
        f"vlm:\n  max_new_tokens: 6\n  models:\n"
        f"    - {{id: toy-blip2, model: 'local-dir:{FIXTURES / 'toy-blip2'}',\n"
        # A few seconds of concept training (a test teaches one before its scans).
        f"       training: {{steps: 6, views: 2, vqa: false, caption_beams: 1}}}}\n" + extra
    )


def library_config(tmp: Path, photos: Path, extra: str = "") -> Config:
    """:func:`library_yaml` written to ``tmp/config.yaml`` and loaded."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "config.yaml").write_text(library_yaml(tmp, photos, extra))
    return load_config(tmp / "config.yaml", environ={})


def make_photos(
    folder: Path, n: int, faces: int = 4, size: tuple[int, int] = (64, 48)
) -> list[Path]:
    """``n`` small random JPEGs, the first ``faces`` of them with two real faces and every
    tenth one blurred (the sharpness plugin tags it)."""
    import numpy as np
    from PIL import Image, ImageFilter

    from tests.concept_fixtures import composite

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        path = folder / f"p{i:04d}.jpg"
        if i < faces:
            composite(i).save(path, quality=90)
        else:
            rng = np.random.default_rng(i)
            arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
            img = Image.fromarray(arr)
            if i % 10 == 9:
                img = img.resize((8, 6)).resize(size, Image.BICUBIC)
                img = img.filter(ImageFilter.GaussianBlur(3))
            img.save(path, quality=90)
        out.append(path)
    return out
