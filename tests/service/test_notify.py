"""The sd_notify client: datagrams systemd understands, never blocking the daemon."""

from __future__ import annotations

import os
import socket
import threading

from photod.service.notify import Notifier


def test_messages_and_watchdog_interval(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "n.sock"))
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "n.sock"), "WATCHDOG_USEC": "3000000"})
    assert n.enabled and n.watchdog_interval == 3.0
    n.ready("0 indexed")
    assert sock.recv(4096).decode().split("\n") == [
        "READY=1",
        "STATUS=0 indexed",
        f"MAINPID={os.getpid()}",
    ]
    n.stopping()
    assert sock.recv(4096).decode().startswith("STOPPING=1\n")
    n.close()


def test_watchdog_pid_of_another_process_is_ignored():
    n = Notifier({"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"})
    assert n.watchdog_interval is None


def test_outside_systemd_everything_is_a_no_op():
    n = Notifier({})
    assert not n.enabled
    n.ready("x")  # no socket, no error


def test_a_reader_that_never_reads_does_not_block_the_loop(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "n.sock"))
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "n.sock")})
    done = threading.Event()

    def spam():
        for _ in range(5000):  # far more than a datagram socket's queue holds
            n.watchdog()
        done.set()

    threading.Thread(target=spam, daemon=True).start()
    assert done.wait(timeout=10), "notify blocked on a full socket"
