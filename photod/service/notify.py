"""systemd's notify protocol (``sd_notify``), spoken directly over the datagram socket.

With ``Type=notify`` systemd waits for READY=1, shows STATUS= lines in ``systemctl status``,
restarts the service when WATCHDOG=1 pings stop, and knows a stop is under way on STOPPING=1.
Outside systemd (no ``NOTIFY_SOCKET``) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class Notifier:
    """Sends notifications to systemd if it asked for them."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # abstract namespace socket
            address = "\0" + address[1:]
        self._address = address or None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        # WATCHDOG_PID names the process systemd expects pings from; ignore it if not us.
        mine = not pid or pid == str(os.getpid())
        self.watchdog_interval = int(usec) / 1e6 if usec.isdigit() and mine else None
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        """Whether systemd is listening."""
        return self._address is not None

    def notify(self, *lines: str) -> None:
        """Send ``KEY=value`` lines in one datagram; errors are logged, never raised."""
        if self._address is None:
            return
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                # Never let a slow reader block the main loop (it would starve the queue).
                self._sock.setblocking(False)
            self._sock.sendto("\n".join(lines).encode(), self._address)
        except BlockingIOError:
            log.debug("notify socket full; dropped %s", lines)
        except OSError as exc:
            log.warning("cannot notify systemd: %s", exc)

    def ready(self, status: str) -> None:
        """Start-up is complete."""
        self.notify("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def status(self, status: str) -> None:
        """A one-line status for ``systemctl status``."""
        self.notify(f"STATUS={status}")

    def watchdog(self) -> None:
        """Tell the watchdog we are alive."""
        self.notify("WATCHDOG=1")

    def reloading(self) -> None:
        """A configuration reload has started (READY=1 follows when done)."""
        self.notify("RELOADING=1", "STATUS=reloading configuration")

    def stopping(self) -> None:
        """Shutdown has started."""
        self.notify("STOPPING=1", "STATUS=stopping: finishing photos in progress")

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
