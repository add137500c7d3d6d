"""Atomic outputs: nothing the tools write is ever seen half-written.

Files and folders are written next to their destination under a temporary name and
renamed into place (``os.replace`` is atomic within one filesystem). Also: whether a buffer
read back is a safetensors one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Sequence, Union

PathLike = Union[str, Path]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    atomic_write_parts(path, [data])


def atomic_write_parts(path: PathLike, parts: Sequence[Union[bytes, memoryview]]) -> None:
    """Write ``parts`` one after another as the file's new content, atomically (large
    outputs pass slices of one buffer instead of joining them into a copy)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        with os.fdopen(fd, "wb") as f:
            for part in parts:
                f.write(part)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf8"))


@contextlib.contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """Yield a temp folder beside ``path``; on success it replaces ``path`` whole.

    An existing ``path`` is moved aside first and deleted only after the new one is in
    place, so a crash leaves either the old or the new folder, never a mix.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; outputs get the usual mode
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = path.parent / f".{path.name}.old.{os.getpid()}"
        if old.exists():
            shutil.rmtree(old)
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def is_safetensors(data: bytes) -> bool:
    """Whether ``data`` is a safetensors buffer: an 8-byte little-endian header size, then
    that many bytes of JSON header (``torch.save`` writes a zip, which starts with ``PK``)."""
    if len(data) < 10:
        return False
    size = int.from_bytes(data[:8], "little")
    return 0 < size <= len(data) - 8 and data[8:9] == b"{"
