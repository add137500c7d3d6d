"""Raw text for pretraining and vector training: JSONL (``{"text": ...}``), plain text (one
document per line) and ``.spacy``, each optionally gzipped, streamed."""

from __future__ import annotations

import gzip
from typing import Iterator

import srsly
from spacy.tokens import DocBin
from spacy.vocab import Vocab

from ...errors import UserError
from .files import PathLike, open_text, require_file


def iter_raw_texts(path: PathLike, *, min_chars: int = 1) -> Iterator[str]:
    """Stream texts from ``.jsonl``, ``.txt`` (one doc per line) or ``.spacy`` (``.gz`` too)."""
    p = require_file(path, "Raw text file")
    name = p.name[:-3] if p.name.endswith(".gz") else p.name
    if name.endswith(".spacy"):
        data = gzip.open(p).read() if p.suffix == ".gz" else p.read_bytes()
        for doc in DocBin().from_bytes(data).get_docs(Vocab()):
            if len(doc.text) >= min_chars:
                yield doc.text
        return
    with open_text(p) as f:
        for lineno, line in enumerate(f, 1):
            if name.endswith(".jsonl"):
                if not line.strip():
                    continue
                try:
                    record = srsly.json_loads(line)
                except ValueError as e:
                    raise UserError(
                        f"Invalid JSON on line {lineno} of {p}: {e}",
                        hint='Each line must be an object like {"text": "..."}.',
                    ) from None
                if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                    raise UserError(
                        f'Line {lineno} of {p} has no "text" string',
                        hint='Each line must be an object like {"text": "..."}.',
                    )
                text = record["text"]
            else:
                text = line.strip()
            if len(text) >= min_chars:
                yield text
