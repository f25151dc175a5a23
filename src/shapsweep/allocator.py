"""Keep freed memory in the process's heap in explanation jobs, so each explanation reuses pages.

Why: glibc serves an allocation over its mmap threshold (128 KB, rising with use to at most 32 MB) with a
fresh mapping and unmaps it on free, so every explanation's large temporaries (at n = 256, 16n the kernel
fit's 2,048-row matrices, 33.5 MB each) fault their pages in again, each zeroed anew (NumPy asks for 2 MB
pages where it can). On a VM a fault can cost
tens of microseconds. Measured (n = 256, 16n, SOUM games, five explanations in one process, after the
first): 8,500 minor faults and 0.04-0.51 s of system time each for 0.62 s of user time; with the heap kept,
1-889 faults and 0.00-0.13 s, the same user time (docs/estimators.md, "Cost floor"). The cost: up to
TRIM_THRESHOLD of freed memory stays mapped in the job's process.
"""

from __future__ import annotations

import ctypes
import ctypes.util

# mallopt's parameter numbers (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 << 20  # allocations up to this come from the heap and are reused after a free
TRIM_THRESHOLD = 512 << 20  # free memory at the heap's top is returned to the system only above this


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; False where the C library has no mallopt
    (not glibc) or refuses, and then nothing changes."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
