"""The allocator setting the commands make at start-up (glibc's mmap threshold), and the
release of free heap memory between inference passes.

Its effect is measured where it matters, on whole runs (masked-LM pretraining of MiniLM:
peak RSS 4.0 GB without, 2.3 GB with; `benchmarks/README.md`); here, that it is applied
where it can be and leaves a user's own choice alone."""

from __future__ import annotations

import ctypes
import platform
import sys

import pytest

from spacy_transfer.core.memory import bound_heap_growth, free_heap_bytes, release_free_heap

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only"
)


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


@glibc_only
def test_applied_on_glibc(monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert bound_heap_growth() is True


def test_a_user_choice_is_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert bound_heap_growth() is False


def _fragmented_heap(libc, n: int = 4000):
    """~250 MiB of freed heap blocks, resident, pinned below one live block (returned)."""
    blocks = []
    for _ in range(n):  # 64 KiB each: below the mmap threshold, so from the heap
        block = libc.malloc(64 * 1024)
        ctypes.memset(block, 1, 64 * 1024)  # touched: resident
        blocks.append(block)
    for block in blocks[:-1]:  # the last one stays live and pins the heap's top
        libc.free(block)
    return blocks[-1]


def _libc():
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    return libc


@glibc_only
def test_freed_heap_memory_pinned_below_a_live_block_goes_back_to_the_system():
    libc = _libc()
    live = _fragmented_heap(libc)
    before = _rss_mib()
    assert free_heap_bytes() > 200 * 1024 * 1024
    assert release_free_heap() is True
    after = _rss_mib()
    libc.free(live)
    assert before - after > 150  # ~250 MiB were free but resident


@glibc_only
def test_the_heap_is_left_alone_while_it_holds_less_free_than_asked():
    libc = _libc()
    live = _fragmented_heap(libc)
    before = _rss_mib()
    assert release_free_heap(above=1 << 40) is False
    assert _rss_mib() > before - 20  # nothing given back
    assert release_free_heap(above=1 << 20) is True
    libc.free(live)
