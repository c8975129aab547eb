"""Giving freed model memory back to the operating system, and reading what a process holds.

Dropping the last reference to a model is not enough for the resident size to go down:
Python's cycles keep tensors alive until a collection, PyTorch's CUDA allocator keeps freed
blocks for reuse, and glibc's ``malloc`` keeps freed heap pages mapped. :func:`release_memory`
undoes all three.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import sys

log = logging.getLogger(__name__)


def _malloc_trim() -> bool:
    # glibc only; musl and macOS return freed pages on their own or have no such call.
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return bool(trim(0))


def release_memory() -> None:
    """Collect garbage, empty PyTorch's CUDA cache (if torch is loaded), trim the heap."""
    gc.collect()
    torch = sys.modules.get("torch")  # never import torch just to free memory
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
    _malloc_trim()


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process (Linux ``/proc``), in bytes."""
    with open(f"/proc/{pid}/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")
