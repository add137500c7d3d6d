"""glibc heap policy: one process-wide setting made by ``pretrain`` at start-up, and a
release of cached free memory between the transformer's inference passes.

glibc raises its mmap threshold each time a large block is freed (up to 32 MiB), so after
the first few forward/backward passes the activations, whose sizes change with every
batch, come from the heap and are rarely given back: peak RSS keeps growing over a run
(measured: masked-LM pretraining of MiniLM 4.0 GB, 2.3 GB with the threshold fixed).
A fixed threshold keeps large blocks in their own mappings, returned to the system on free.
It costs page faults on every large allocation: inference over EWT dev ran 5.4 s -> 7.3 s
with it (RSS 726 -> 665 MB), so only ``pretrain`` sets it, where it measured no slower.

Inference instead gives the free heap back between forward passes once glibc holds more
than 32 MiB of it (``release_free_heap``, glibc's ``malloc_trim``): one pass's freed
activations are no longer kept cached beside the next pass's. A threshold, not every pass:
each release costs faulting the next pass's working set in again, which at ``nlp.pipe``
batch 64 (175 small passes) cost up to 10% of the speed. Measured over EWT dev, MiniLM,
batch 1000 with 1,024-wordpiece passes: peak RSS 635-670 MiB without, 605-619 with.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from typing import Any, Optional

M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h)
DEFAULT_THRESHOLD = 128 * 1024  # glibc's own starting value


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")
    ]  # fmt: skip


@functools.lru_cache(maxsize=1)
def _glibc() -> Optional[Any]:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "malloc_trim"):  # glibc only: musl and others lack it
        return None
    if hasattr(libc, "mallinfo2"):  # glibc >= 2.33
        libc.mallinfo2.restype = _MallInfo2
    return libc


def bound_heap_growth(threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold; returns whether it was set (Linux/glibc only, and not
    when the user chose one with ``MALLOC_MMAP_THRESHOLD_``)."""
    libc = _glibc()
    if libc is None or "MALLOC_MMAP_THRESHOLD_" in os.environ:  # musl or another libc: nothing to tune
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, int(threshold)))


def free_heap_bytes() -> Optional[int]:
    """Bytes the heap holds free (all arenas), or None where glibc cannot say."""
    libc = _glibc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return None
    return int(libc.mallinfo2().fordblks)


def release_free_heap(above: int = 0) -> bool:
    """Return the heap's free pages to the system (every arena, not only the top) when it
    holds more than ``above`` bytes free (always where glibc is older than 2.33 and cannot
    say); returns whether it did (glibc only). Live allocations are untouched."""
    libc = _glibc()
    if libc is None:
        return False
    free = free_heap_bytes()
    if free is not None and free <= above:
        return False
    libc.malloc_trim(0)
    return True


__all__ = ["bound_heap_growth", "free_heap_bytes", "release_free_heap"]
