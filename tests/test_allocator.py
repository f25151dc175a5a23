"""allocator.keep_freed_memory: an explanation job's large temporaries reuse the heap's pages."""

import subprocess
import sys

import pytest

# Each line: the minor page faults of the second to fifth 40 MB array filled after the first was freed.
PROBE = """
import resource, sys
import numpy as np
from shapsweep.allocator import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
np.ones((2048, 2560)).sum()
for _ in range(4):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    np.ones((2048, 2560)).sum()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> list[int]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True).stdout
    return [int(line) for line in out.split()]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_kept_heap_refills_a_freed_40_mb_array_without_faulting_its_pages_in_again():
    default, kept = _faults("default"), _faults("keep")
    # glibc maps every array over 32 MB afresh: at least one fault per 2 MB (NumPy asks for huge pages;
    # measured 532 a refill here), each zeroing its page again
    assert min(default) >= 40 * 2**20 // (2 * 2**20)
    assert max(kept) < 10  # measured 0
