"""Running ``photod run`` as a real child process, with a fake systemd notify socket."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path


class NotifySocket:
    """The datagram socket systemd would listen on (``NOTIFY_SOCKET``), read continuously
    like systemd does."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[str] = []
        self._cond = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(4096).decode()
            except (TimeoutError, OSError):
                continue
            with self._cond:
                self.messages.extend(data.split("\n"))
                self._cond.notify_all()

    def clear(self) -> None:
        """Forget what was received so far."""
        with self._cond:
            self.messages.clear()

    def wait_for(self, line: str, timeout: float = 30.0) -> list[str]:
        """Wait until ``line`` was received (and consume it); return everything so far."""
        with self._cond:
            if not self._cond.wait_for(lambda: line in self.messages, timeout=timeout):
                raise AssertionError(f"no {line!r} from photod within {timeout} s: {self.messages}")
            seen = list(self.messages)
            self.messages.remove(line)
            return seen

    def close(self) -> None:
        self._closed = True
        self._reader.join()
        self.sock.close()


def start_daemon(
    config: Path,
    notify: NotifySocket | None = None,
    watchdog_usec: int = 0,
    log: Path | None = None,
) -> subprocess.Popen:
    """Start ``python -m photod --config CONFIG run`` in its own process group."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("NOTIFY_SOCKET", None)
    if notify is not None:
        env["NOTIFY_SOCKET"] = str(notify.path)
    if watchdog_usec:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - child owns it
    return subprocess.Popen(
        [sys.executable, "-m", "photod", "--config", str(config), "run"],
        env=env,
        stdout=out,
        stderr=out,
        start_new_session=True,
    )


def query(index: Path, sql: str, args: tuple = ()) -> list[tuple]:
    """Read the index the way another process would (it may be mid-write: WAL)."""
    if not index.exists():
        return []
    conn = sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return []  # schema not created yet
    finally:
        conn.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll ``predicate`` every 50 ms until true; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
