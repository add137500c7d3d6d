"""The allocator setting the commands make at start-up (glibc's mmap threshold).

Its effect is measured where it matters, on whole runs (masked-LM pretraining of MiniLM:
peak RSS 4.0 GB without, 2.3 GB with; `benchmarks/README.md`); here, that it is applied
where it can be and leaves a user's own choice alone."""

from __future__ import annotations

import platform
import sys

import pytest

from spacy_transfer.core.memory import bound_heap_growth


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_applied_on_glibc(monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert bound_heap_growth() is True


def test_a_user_choice_is_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert bound_heap_growth() is False
