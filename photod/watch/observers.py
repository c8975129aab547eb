"""Building watchdog observers, and noticing when inotify runs out of watches.

watchdog 7 adds one inotify watch per folder. When the per-user limit is hit on the root it
raises ``OSError(ENOSPC, "inotify watch limit reached")``, but when it is hit on a *subfolder*
(at start or later, when a folder is created) it skips that folder silently, and changes in it
would be missed. :class:`GuardedInotifyObserver` reports every such failure to a callback, so
the watcher can fall back to polling for that root.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable

from watchdog.observers.api import DEFAULT_OBSERVER_TIMEOUT, BaseObserver
from watchdog.observers.polling import PollingObserverVFS

OnExhausted = Callable[[OSError], None]
ObserverFactory = Callable[[OnExhausted], BaseObserver]

# The kernel limits that stop inotify, and the sysctl that raises each.
LIMITS = {
    errno.ENOSPC: ("fs.inotify.max_user_watches", 524288),
    errno.EMFILE: ("fs.inotify.max_user_instances", 512),
}


def is_exhaustion(exc: BaseException) -> bool:
    """Whether ``exc`` says that inotify watches or instances ran out."""
    if not isinstance(exc, OSError):
        return False
    return exc.errno in LIMITS or "inotify watch limit reached" in str(exc)


def fix_for(exc: OSError) -> str:
    """The commands that raise the limit behind ``exc``, now and after a reboot."""
    key, value = LIMITS.get(exc.errno or errno.ENOSPC, LIMITS[errno.ENOSPC])
    return (
        f"sudo sysctl {key}={value}; to keep it after a reboot: "
        f"echo {key}={value} | sudo tee /etc/sysctl.d/90-photod-inotify.conf"
    )


try:  # Linux with watchdog >= 7: inotify through a shared InotifyFD that we can subclass.
    from watchdog.observers.inotify import InotifyEmitter
    from watchdog.observers.inotify_c import InotifyFD
except ImportError:  # another platform or an older watchdog: its native observer, unguarded
    InotifyFD = None  # type: ignore[assignment,misc]


if InotifyFD is not None:

    class GuardedInotifyFD(InotifyFD):  # type: ignore[misc,valid-type]
        """An inotify instance that reports each watch it could not add for lack of watches."""

        def __init__(self, on_exhausted: OnExhausted) -> None:
            super().__init__()
            self._on_exhausted = on_exhausted

        def add_callback(self, path, mask, callback, id_):  # noqa: ANN001, ANN201 (watchdog's)
            """Add a watch; tell the watcher when the kernel refuses for lack of watches."""
            try:
                return super().add_callback(path, mask, callback, id_)
            except OSError as exc:
                if is_exhaustion(exc):
                    self._on_exhausted(exc)
                raise

        def _add_callback(self, path, mask, callback, id_):  # noqa: ANN001, ANN202 (watchdog's)
            # A new folder's recursive walk watches the subfolders a copy has just made, and
            # their IN_CREATE events, queued meanwhile, make watchdog add the same callback to
            # the same watch again: watchdog warns (1.5 kB) that it overwrites the callback,
            # though nothing changes (an id is one emitter's: its callback is always itself).
            watch = self._get_or_create_watch(path, mask)
            watch.callbacks[id_] = callback
            return watch.wd

    class GuardedInotifyObserver(BaseObserver):
        """watchdog's ``InotifyObserver`` on a :class:`GuardedInotifyFD` of its own."""

        fd_class: type[GuardedInotifyFD] = GuardedInotifyFD

        def __init__(
            self, on_exhausted: OnExhausted, *, timeout: float = DEFAULT_OBSERVER_TIMEOUT
        ) -> None:
            # inotify_init() runs here: EMFILE (instance limit) surfaces from the constructor.
            self._inotify_fd = self.fd_class(on_exhausted)
            self._inotify_fd.start()
            super().__init__(InotifyEmitter, timeout=timeout, inotify_fd=self._inotify_fd)

        def on_thread_stop(self) -> None:
            """Remove the watches, then close the inotify instance."""
            super().on_thread_stop()
            self._inotify_fd.stop()
            with contextlib.suppress(RuntimeError):
                self._inotify_fd.join()

    def native_observer(on_exhausted: OnExhausted) -> BaseObserver:
        """The default observer: inotify, guarded."""
        return GuardedInotifyObserver(on_exhausted)

else:

    def native_observer(on_exhausted: OnExhausted) -> BaseObserver:
        """The default observer: the platform's own (its failures surface from schedule)."""
        from watchdog.observers import Observer

        return Observer()


def polling_observer(interval: float) -> BaseObserver:
    """An observer that compares folder snapshots every ``interval`` seconds.

    Snapshots use ``lstat``: following symlinked folders would recurse through a symlink loop
    (exponentially, with two links) and report photos under looping paths.
    """
    return PollingObserverVFS(stat=os.lstat, listdir=os.scandir, polling_interval=interval)


def stop_quietly(observer: BaseObserver | None) -> None:
    """Stop and join ``observer``, even one that never started."""
    if observer is None:
        return
    with contextlib.suppress(Exception):
        observer.stop()
    with contextlib.suppress(RuntimeError):
        observer.join()
