"""A real Ray cluster on loopback for the compute tests: a head node and a second worker node,
one CPU and a 100 MB object store each, in a temporary folder; stopped at the end whatever
happens (each node's process group is terminated, then killed).

Also the toy library these tests scan: small random photos plus photos with two real faces,
the toy CLIP and the toy BLIP-2 shipped with the lab (``lab/photod_lab/toyworld/fixtures``),
and the installed plugins (colour and sharpness tags), exactly as a local scan runs them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from photod.config import Config, load_config

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "lab" / "photod_lab" / "toyworld" / "fixtures"
RAY = str(Path(sys.executable).with_name("ray"))
NODE = ["--num-cpus=1", "--object-store-memory=100000000", "--disable-usage-stats", "--block"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    # The node's raylet, GCS and workers share the group `ray start` leads.
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # what outlived its leader


class Cluster:
    """The running test cluster: its GCS address and its node processes."""

    def __init__(self, address: str, nodes: list[subprocess.Popen]) -> None:
        self.address = address
        self.nodes = nodes


@pytest.fixture(scope="session")
def ray_cluster():
    """Head + worker node on 127.0.0.1 (worker processes import this checkout's photod)."""
    import ray

    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths are bounded
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "RAY_USAGE_STATS_ENABLED": "0",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    common = dict(env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    nodes: list[subprocess.Popen] = []
    try:
        nodes.append(
            subprocess.Popen(
                [RAY, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
                 f"--temp-dir={temp}", "--include-dashboard=false", *NODE],
                stderr=subprocess.DEVNULL, **common,
            )
        )  # fmt: skip
        _wait_for(lambda: _reachable(port), 60, "the head node")
        nodes.append(
            subprocess.Popen(
                [RAY, "start", f"--address={address}", "--node-ip-address=127.0.0.1", *NODE],
                stderr=subprocess.DEVNULL, **common,
            )
        )  # fmt: skip
        ray.init(address=address, namespace="photod", log_to_driver=False)
        _wait_for(lambda: ray.cluster_resources().get("CPU", 0) >= 2, 60, "the second node")
        yield Cluster(address, nodes)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for proc in reversed(nodes):
            _stop(proc)
        shutil.rmtree(temp, ignore_errors=True)


def _reachable(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_for(ok, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not ok():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come up in {seconds:.0f} s")
        time.sleep(0.5)


def library_yaml(tmp: Path, photos: Path, extra: str = "") -> str:
    """An isolated configuration over ``photos`` with the toy models; ``extra`` appended."""
    return (
        f"paths:\n  data_dir: {tmp / 'data'}\n  cache_dir: {tmp / 'cache'}\n"
        f"  state_dir: {tmp / 'state'}\n"
        f"library:\n  roots: [{photos}]\n"
        f"clip:\n  model: local-dir:{FIXTURES / 'toy-clip'}\n"
        f"vlm:\n  max_new_tokens: 6\n  models:\n"
        f"    - {{id: toy-blip2, model: 'local-dir:{FIXTURES / 'toy-blip2'}'}}\n" + extra
    )


def library_config(tmp: Path, photos: Path, extra: str = "") -> Config:
    """:func:`library_yaml` written to ``tmp/config.yaml`` and loaded."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "config.yaml").write_text(library_yaml(tmp, photos, extra))
    return load_config(tmp / "config.yaml", environ={})


def make_photos(folder: Path, n: int, faces: int = 4) -> list[Path]:
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
            arr = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
            img = Image.fromarray(arr)
            if i % 10 == 9:
                img = img.resize((8, 6)).resize((64, 48), Image.BICUBIC)
                img = img.filter(ImageFilter.GaussianBlur(3))
            img.save(path, quality=90)
        out.append(path)
    return out
