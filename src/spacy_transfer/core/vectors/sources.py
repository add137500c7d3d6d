"""Open a vectors file whatever its packaging, and tell which format it holds.

Compressed files (``.gz``, ``.bz2``, ``.xz``, ``.zip``, ``.tar.*``) are read as one stream,
never unpacked to disk. The format is found from the first bytes (magic numbers), not
from the file name, so a renamed file still works; ``--format`` overrides the guess.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, List, Optional, Tuple

from ...errors import UserError

BLOCK = 1 << 22  # 4 MiB reads: few Python calls per file, little memory.

FORMATS = ("auto", "text", "word2vec-bin", "fasttext-bin", "gensim", "npy", "npz", "floret")
FASTTEXT_MAGIC = 793712314  # fastText's (and floret's) binary model header int32
_SKIP_MEMBERS = ("readme", "license", "licence", "copying")


@dataclass
class Source:
    """An open byte stream over the (decompressed) vectors data."""

    path: Path
    stream: BinaryIO
    compression: Optional[str]  # gzip, bz2, xz, zip, tar, or None
    member: Optional[str]  # the file read inside a zip/tar archive
    size: int  # bytes of the file on disk (what the progress bar counts)
    position: Callable[[], int]  # bytes of the file on disk consumed so far
    head: bytes = b""  # first bytes, already read from `stream`
    _closers: List[BinaryIO] = field(default_factory=list)

    def blocks(self) -> Iterator[bytes]:
        """The whole decompressed content in large blocks (``head`` first)."""
        if self.head:
            yield self.head
        while True:
            block = self.stream.read(BLOCK)
            if not block:
                return
            yield block

    def close(self) -> None:
        for f in reversed(self._closers):
            f.close()

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def where(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    def progress(self, enabled: bool) -> "ByteProgress":
        """A bar over the file's bytes on disk (compressed files included), on stderr."""
        return ByteProgress(self, enabled)


class ByteProgress:
    """Progress through a Source, advanced now and then (``tick``) from a reading loop."""

    def __init__(self, source: Source, enabled: bool) -> None:
        import sys

        from tqdm import tqdm

        self.source = source
        self.last = source.position()
        self.bar = tqdm(
            total=source.size,
            unit="B",
            unit_scale=True,
            desc="Reading vectors",
            file=sys.stderr,
            disable=not enabled,
            leave=False,
        )

    def tick(self) -> None:
        pos = self.source.position()
        self.bar.update(pos - self.last)
        self.last = pos

    def close(self) -> None:
        self.bar.update(self.source.size - self.last)
        self.bar.close()


def _compression_of(head: bytes) -> Optional[str]:
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head[257:262] == b"ustar":
        return "tar"
    return None


def _pick_member(names: List[str], path: Path) -> str:
    candidates = [
        n
        for n in names
        if not Path(n).name.lower().startswith(_SKIP_MEMBERS) and not n.endswith((".md", "/"))
    ]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise UserError(
            f"{path} holds no file with vectors",
            rows=[(path, "archive members: " + (", ".join(names) or "none"))],
        )
    raise UserError(
        f"{path} holds several files; which one has the vectors is unclear",
        rows=[(path, n) for n in candidates],
        hint="Extract the vectors file from the archive and pass it directly.",
    )


def open_source(path: Path) -> Source:
    """Open ``path``, undoing any compression; reads the first block into ``head``."""
    path = Path(path)
    if not path.exists():
        raise UserError(
            f"Vectors file not found: {path}",
            hint="Check the path (relative paths start from the current folder).",
        )
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a vectors file", hint="Give the vectors file itself.")
    raw = open(path, "rb")
    size = path.stat().st_size
    magic = raw.read(512)
    raw.seek(0)
    closers: List[BinaryIO] = [raw]
    try:
        stream, compression, member = _unpack(raw, _compression_of(magic), path, closers)
        source = Source(path, stream, compression, member, size, raw.tell, _closers=closers)
        source.head = stream.read(BLOCK)
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile, lzma.LZMAError) as e:
        for f in reversed(closers):
            f.close()
        raise UserError(
            f"Could not read {path}: {e}",
            hint="The file looks damaged or truncated; download or compress it again.",
        ) from None
    except BaseException:
        for f in reversed(closers):
            f.close()
        raise
    return source


def _unpack(
    raw: BinaryIO, compression: Optional[str], path: Path, closers: List[BinaryIO]
) -> Tuple[BinaryIO, Optional[str], Optional[str]]:
    """The stream to read vectors from, the compression it undoes and the archive member."""
    if compression in ("gzip", "bz2", "xz"):
        opener = {"gzip": lambda f: gzip.GzipFile(fileobj=f), "bz2": bz2.BZ2File, "xz": lzma.LZMAFile}[
            compression
        ]
        stream = opener(raw)  # type: ignore[operator]
        closers.append(stream)
        # A compressed tarball: read it as a tar stream (one pass, no seeking).
        inner = stream.peek(512)[:512] if hasattr(stream, "peek") else b""
        if inner[257:262] == b"ustar":
            tar_stream, member = _open_tar(stream, path, closers)
            return tar_stream, "tar", member
        return stream, compression, None
    if compression == "tar":
        tar_stream, member = _open_tar(raw, path, closers)
        return tar_stream, compression, member
    if compression == "zip":
        archive = zipfile.ZipFile(raw)
        names = [i.filename for i in archive.infolist() if not i.is_dir()]
        if names and all(n.endswith(".npy") for n in names):
            raw.seek(0)
            return raw, None, None  # an .npz: NumPy reads it by path
        member = _pick_member(names, path)
        stream = archive.open(member)
        closers.append(stream)
        return stream, compression, member
    return raw, compression, None


def _open_tar(fileobj: BinaryIO, path: Path, closers: List[BinaryIO]):
    archive = tarfile.open(fileobj=fileobj, mode="r|")
    closers.append(archive)  # type: ignore[arg-type]
    seen: List[str] = []
    for info in archive:
        if not info.isfile():
            continue
        seen.append(info.name)
        if not Path(info.name).name.lower().startswith(_SKIP_MEMBERS) and not info.name.endswith(".md"):
            f = archive.extractfile(info)
            assert f is not None
            return f, info.name
    raise UserError(
        f"{path} holds no file with vectors", rows=[(path, "archive members: " + (", ".join(seen) or "none"))]
    )


def is_npz(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return bool(names) and all(n.endswith(".npy") for n in names)


def detect_format(source: Source, mode: str) -> str:
    """Name the format of an opened source from its first bytes."""
    head = source.head
    if source.compression is None and head.startswith(b"PK\x03\x04") and is_npz(source.path):
        return "npz"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if len(head) >= 4 and struct.unpack("<i", head[:4])[0] == FASTTEXT_MAGIC:
        return "fasttext-bin"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "gensim"
    first, _, rest = head.partition(b"\n")
    fields = first.split()
    if mode == "floret" or (len(fields) == 8 and all(_is_int(f) for f in fields[:6])):
        return "floret"
    if len(fields) == 2 and all(_is_int(f) for f in fields) and _looks_binary(rest, int(fields[1])):
        return "word2vec-bin"
    return "text"


def _is_int(value: bytes) -> bool:
    return value.isdigit()


def _looks_binary(rest: bytes, dims: int) -> bool:
    """After a ``rows dims`` header: raw float32 bytes follow the first word, or text does."""
    line = rest.split(b"\n", 1)[0]
    fields = line.split()
    if len(fields) >= dims + 1:
        try:
            [float(f) for f in fields[-dims:]]
            return False  # a well-formed text line
        except ValueError:
            pass
    # Numbers in text are printable ASCII; float32 bytes almost never are.
    space = rest.find(b" ")
    sample = rest[space + 1 : space + 1 + 4 * dims]
    region = sample.split(b"\n", 1)[0] or sample
    return any((b < 0x20 and b not in (9, 13)) or b >= 0x7F for b in region)
