"""Raw text for pretraining, streamed: JSONL, plain text and ``.spacy``, gzipped or not.

``spacy-transfer.RawTextCorpus.v1`` reads a file or a folder of files in any of those
formats, one document per JSONL record / text line / ``.spacy`` doc. spaCy's own
pretraining reader, ``spacy.JsonlCorpus.v1`` (the default ``[corpora.pretrain]`` reader),
takes the same arguments; in a pretraining config our loop reads it with this reader
instead, so the default config also accepts ``.txt``/``.gz``/``.spacy`` files and bad
input becomes a clear error rather than a traceback mid-epoch.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Union

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from ...errors import UserError
from ..corpora import iter_raw_texts

PathLike = Union[str, Path]
RAW_SUFFIXES = (".jsonl", ".txt", ".spacy", ".jsonl.gz", ".txt.gz", ".spacy.gz")
# Readers whose arguments (path, min_length, max_length, limit) we read with RawTextCorpus.
REPLACEABLE_READERS = ("spacy.JsonlCorpus.v1", "spacy-transfer.RawTextCorpus.v1")


def raw_text_files(path: PathLike) -> List[Path]:
    """The files a raw-text path stands for: the file itself, or a folder's raw text files."""
    p = Path(path)
    if not p.exists():
        raise UserError(
            f"Raw text not found: {p}",
            hint="Set the corpus path, e.g. '--paths.raw_text text.jsonl' (JSONL, .txt or .spacy, optionally .gz).",
        )
    if p.is_file():
        return [p]
    files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".") and _is_raw(f))
    if not files:
        raise UserError(
            f"No raw text files in the folder {p}",
            hint=f"Put files ending in one of {', '.join(RAW_SUFFIXES)} there, or point to a file.",
        )
    return files


def _is_raw(path: Path) -> bool:
    name = path.name
    # gzipped files without an inner suffix (e.g. 'corpus.gz') are read as plain text
    return name.endswith(RAW_SUFFIXES) or name.endswith(".gz")


class RawTextCorpus:
    """Stream docs from raw text, skipping docs shorter than ``min_length`` tokens or
    with ``max_length`` tokens or more (0 = no limit, as in spaCy's JsonlCorpus)."""

    def __init__(
        self, path: Optional[PathLike], *, min_length: int = 0, max_length: int = 0, limit: int = 0
    ) -> None:
        if path is None:
            raise UserError(
                "The pretraining corpus has no path",
                rows=[("[corpora.pretrain] path", "null (usually ${paths.raw_text})")],
                hint="Pass the raw text on the command line, e.g. '--paths.raw_text text.jsonl'.",
            )
        self.files = raw_text_files(path)
        self.min_length = min_length
        self.max_length = max_length
        self.limit = limit

    def docs(self, nlp: Language) -> Iterator[Doc]:
        n = 0
        for path in self.files:
            for text in _read_texts(path):
                doc = nlp.make_doc(text)
                if self.min_length >= 1 and len(doc) < self.min_length:
                    continue
                if self.max_length >= 1 and len(doc) >= self.max_length:
                    continue
                yield doc
                n += 1
                if self.limit >= 1 and n >= self.limit:
                    return

    def __call__(self, nlp: Language) -> Iterator[Example]:
        # Readers yield Examples by spaCy's convention; raw text is its own reference.
        for doc in self.docs(nlp):
            yield Example(doc, doc)


def _read_texts(path: Path) -> Iterator[str]:
    try:
        yield from iter_raw_texts(path)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise UserError(
            f"Could not read the raw text file {path}",
            rows=[(str(path), f"{type(e).__name__}: {e}")],
            hint="Check that the file is complete (gzip files must not be truncated).",
        ) from None
    except UnicodeDecodeError as e:
        raise UserError(
            f"The raw text file {path} is not UTF-8 text",
            rows=[(str(path), str(e))],
            hint="Raw text must be UTF-8: JSONL with a 'text' key, one document per line, or .spacy.",
        ) from None
    except ValueError as e:  # DocBin.from_bytes on a file that is not a DocBin
        raise UserError(f"Could not read the raw text file {path}", rows=[(str(path), str(e))]) from None


@registry.readers("spacy-transfer.RawTextCorpus.v1")
def create_raw_text_reader(
    path: Optional[PathLike], min_length: int = 0, max_length: int = 0, limit: int = 0
) -> Callable[[Language], Iterable[Example]]:
    return RawTextCorpus(path, min_length=min_length, max_length=max_length, limit=limit)


def resolve_pretraining_corpus(section: Dict[str, Any]) -> Callable[[Language], Iterable[Any]]:
    """Build the reader for a ``[corpora.X]`` section (interpolated), reading raw-text
    readers with :class:`RawTextCorpus` and resolving any other reader as spaCy does."""
    if not isinstance(section, dict) or "@readers" not in section:
        raise UserError(
            "The pretraining corpus section has no '@readers' setting",
            hint='Add e.g. [corpora.pretrain] with @readers = "spacy.JsonlCorpus.v1" and path = ${paths.raw_text}.',
        )
    if section["@readers"] in REPLACEABLE_READERS:
        args = {k: v for k, v in section.items() if not k.startswith("@")}
        unknown = set(args) - {"path", "min_length", "max_length", "limit"}
        if unknown:
            raise UserError(
                f"Unknown setting(s) for {section['@readers']}: {', '.join(sorted(unknown))}",
                hint="It takes path, min_length, max_length and limit.",
            )
        return RawTextCorpus(
            args.get("path"),
            min_length=args.get("min_length", 0) or 0,
            max_length=args.get("max_length", 0) or 0,
            limit=args.get("limit", 0) or 0,
        )
    return registry.resolve({"corpus": section})["corpus"]


def iter_docs(corpus: Callable[[Language], Iterable[Any]], nlp: Language) -> Iterator[Doc]:
    """Docs from any reader: RawTextCorpus directly, Examples by their reference."""
    if isinstance(corpus, RawTextCorpus):
        yield from corpus.docs(nlp)
        return
    for item in corpus(nlp):
        yield item if isinstance(item, Doc) else item.reference
