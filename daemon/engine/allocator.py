"""A tiled level's memory goes back to the system after every tile (so that a memory budget holds).

glibc's malloc keeps freed blocks below its mmap threshold in its heap, and raises that threshold
(up to 32 MiB) each time a larger mapped block is freed (mallopt(3), M_MMAP_THRESHOLD). A tiled level
frees a window's activations after every tile, and the windows at the image's borders have other
shapes, so the heap kept what earlier shapes left and the process grew past the plan's count
(measured, one forward + backward per window on the CPU: 100-135 MiB kept after each new window
shape: 4 % over the budget in the 512-px daemon test, 27 % at 4096²).

While a tiled job runs on the CPU, blocks of ``TILED_THRESHOLD`` and more are mapped and unmapped
directly: each tile starts from the same resident size (measured: 1.9-2.2 kB per window pixel at its
peak, nothing kept after it). Afterwards the thresholds are fixed where glibc's dynamic ones settle.
Nothing happens where the C library is not glibc.
"""
from __future__ import annotations

import contextlib
import ctypes
import sys
from typing import Iterator

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3   # glibc's mallopt parameters (malloc.h)
TILED_THRESHOLD = 1 << 20                      # 1 MiB: a window's feature maps are all larger
SETTLED_THRESHOLD = 32 << 20                   # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit systems


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


@contextlib.contextmanager
def returned_after_each_tile(active: bool = True) -> Iterator[bool]:
    """Within the block, large blocks are returned to the system as soon as they are freed (module
    docstring). Yields whether that is in force (False: not asked, or not glibc)."""
    libc = _glibc() if active else None
    if libc is None:
        yield False
        return
    libc.mallopt(M_MMAP_THRESHOLD, TILED_THRESHOLD)
    libc.mallopt(M_TRIM_THRESHOLD, TILED_THRESHOLD)
    libc.malloc_trim(0)
    try:
        yield True
    finally:
        libc.mallopt(M_MMAP_THRESHOLD, SETTLED_THRESHOLD)
        libc.mallopt(M_TRIM_THRESHOLD, 2 * SETTLED_THRESHOLD)
