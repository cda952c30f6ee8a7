"""Keep freed memory inside the process on glibc, so big tensors are not page-faulted in anew.

glibc returns large freed blocks to the kernel (mmap'd allocations, heap trimming); a network
that allocates and frees the same big feature maps every pass then spends much of its time in
page faults. Equivalent to ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=<huge>``; faster for
such a network (docs/performance.md has the measurements), at the price of a higher resident
peak.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Tune glibc malloc for this process; returns False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        ok = libc.mallopt(_M_MMAP_MAX, 0) and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
    except (OSError, AttributeError):
        return False
    return bool(ok)
