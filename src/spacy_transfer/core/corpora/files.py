"""Corpus files: opening (gzipped too), checking a path names a file, and ``.spacy`` (DocBin)
files: what keeps spaCy's reader from reading one, and writing one atomically."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import IO, Iterable, Optional, Union

from spacy.tokens import Doc, DocBin

from ...errors import UserError
from ..io import atomic_write_bytes

PathLike = Union[str, Path]


def require_file(path: PathLike, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise UserError(f"{what} not found: {p}", hint="Check the path.")
    if p.is_dir():
        raise UserError(f"{what} is a directory, expected a file: {p}")
    return p


def docbin_problem(path: PathLike) -> Optional[str]:
    """What keeps spaCy's ``Corpus`` from reading ``path`` (a .spacy file or a folder of
    them), or None. spaCy itself reads a .conllu or a broken file as "no data" or E1014,
    without naming the file."""
    p = Path(path)
    if not p.exists():
        return f"{p} does not exist"
    if p.is_file() and not p.name.endswith(".spacy"):
        return (
            f"{p} is not a .spacy file (spaCy's corpus reader reads only .spacy); "
            f"convert it: spacy-transfer convert {p} {p.with_suffix('.spacy').name}"
        )
    files = [p] if p.is_file() else [f for f in sorted(p.rglob("*.spacy")) if not f.name.startswith(".")]
    if not files:
        return f"{p} holds no .spacy files"
    for f in files:
        if not _looks_like_docbin(f):
            return f"{f} is not a .spacy (DocBin) file: it is damaged, or another format renamed"
    if all(_is_empty_docbin(f) for f in files):
        return f"{p} has no documents"
    return None


def _looks_like_docbin(path: Path) -> bool:
    """A DocBin file is zlib-compressed msgpack: its first bytes must inflate."""
    import zlib

    with open(path, "rb") as f:
        head = f.read(4096)
    try:
        zlib.decompressobj().decompress(head)
    except zlib.error:
        return False
    return True


def _is_empty_docbin(path: Path) -> bool:
    # Only small files can be empty DocBins; larger ones are not worth reading here.
    if path.stat().st_size > 4096:
        return False
    try:
        return len(DocBin().from_disk(path)) == 0
    except Exception:
        return False  # not ours to judge: spaCy's reader reports a damaged file


def open_text(path: PathLike) -> IO[str]:
    """Open a text file, transparently gunzipping ``.gz``."""
    p = Path(path)
    if p.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf8")
    return open(p, encoding="utf8")


def write_docbin(docs: Iterable[Doc], path: PathLike) -> Path:
    """Save docs as a ``.spacy`` file, atomically."""
    db = DocBin(store_user_data=False)
    for doc in docs:
        db.add(doc)
    atomic_write_bytes(path, db.to_bytes())
    return Path(path)
