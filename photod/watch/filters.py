"""Which paths photod considers photos (extensions, ignore patterns)."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from photod.config import LibraryConfig


class PathFilter:
    """Decides whether a path is a photo photod should index."""

    def __init__(self, library: LibraryConfig) -> None:
        self._patterns = list(library.ignore)
        self._extensions = frozenset(library.extensions)
        # Absolute, and longest first: a root nested in another (a labelled-examples folder
        # inside the library) must strip its own prefix, or its parts would be matched as names.
        roots = {os.path.abspath(str(r)) for r in library.roots}
        self._roots = sorted(roots, key=len, reverse=True)

    def ignored_name(self, name: str) -> bool:
        """True if a file or folder *name* matches an ignore pattern."""
        return any(fnmatch.fnmatchcase(name, pat) for pat in self._patterns)

    def ignored_path(self, path: str | Path) -> bool:
        """True if any component below the photo root matches an ignore pattern."""
        p = str(path)
        for root in self._roots:
            if p == root or p.startswith(root.rstrip(os.sep) + os.sep):
                p = p[len(root) :]
                break
        return any(self.ignored_name(part) for part in p.split(os.sep) if part)

    def is_photo(self, path: str | Path) -> bool:
        """A non-ignored file with a photo extension."""
        return os.path.splitext(str(path))[1].lower() in self._extensions and not self.ignored_path(
            path
        )


def storable(path: str) -> bool:
    """Whether ``path`` can be stored as text (non-UTF-8 names cannot; see :func:`display`)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def display(path: str) -> str:
    """A printable, storable form of a path that may hold undecodable bytes."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")
