"""A real Ray cluster on loopback, for the compute tests and bench/ray_scan.py: a head node
and optionally more nodes on this machine, in a temporary folder, stopped at the end whatever
happens (each node's process group is terminated, then killed)."""

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
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_env() -> dict[str, str]:
    """This environment, with this checkout's photod first on the path (Ray's worker
    processes inherit it from the node that starts them) and no hub access."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {
        **os.environ,
        "PYTHONPATH": path,
        "RAY_USAGE_STATS_ENABLED": "0",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


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


def _wait_for(ok, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not ok():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come up in {seconds:.0f} s")
        time.sleep(0.5)


def _reachable(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def local_cluster(cpus: list[int], object_store_mb: int = 100) -> Iterator[str]:
    """Start one Ray node per entry of ``cpus`` (the first is the head) and yield the GCS
    address once every node has joined; the nodes are stopped when the block ends."""
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths are bounded
    port = free_port()
    address = f"127.0.0.1:{port}"
    node = [f"--object-store-memory={object_store_mb * 10**6}", "--disable-usage-stats", "--block"]
    common = dict(
        env=worker_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    nodes: list[subprocess.Popen] = []
    try:
        head = [RAY, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1"]
        head += [f"--temp-dir={temp}", "--include-dashboard=false", f"--num-cpus={cpus[0]}"]
        nodes.append(subprocess.Popen(head + node, **common))
        _wait_for(lambda: _reachable(port), 60, "the head node")
        for n in cpus[1:]:
            more = [RAY, "start", f"--address={address}", "--node-ip-address=127.0.0.1"]
            nodes.append(subprocess.Popen([*more, f"--num-cpus={n}", *node], **common))
        _wait_for(lambda: _joined(address, sum(cpus)), 90, "the cluster's nodes")
        yield address
    finally:
        for proc in reversed(nodes):
            _stop(proc)
        shutil.rmtree(temp, ignore_errors=True)


def _joined(address: str, cpus: int) -> bool:
    # `ray status` from a short-lived process: this one must not join the cluster itself.
    out = subprocess.run(
        [RAY, "status", f"--address={address}"], capture_output=True, text=True, env=worker_env()
    ).stdout
    return f"/{cpus}.0 CPU" in out
