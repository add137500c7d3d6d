"""Atomic writes: the new content appears whole or not at all."""

from __future__ import annotations

import pytest

from spacy_transfer.core.io import atomic_write_bytes, atomic_write_parts


def test_parts_are_written_in_order_without_joining_them(tmp_path):
    data = bytes(range(256)) * 10
    path = tmp_path / "out.bin"
    atomic_write_parts(path, [data[:8], b"header", memoryview(data)[8:]])
    assert path.read_bytes() == data[:8] + b"header" + data[8:]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.bin"
    atomic_write_bytes(path, b"old")
    with pytest.raises(TypeError):
        atomic_write_parts(path, [b"new", "not bytes"])  # type: ignore[list-item]
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
