"""CoNLL-U treebanks (UD), through spaCy's own converter."""

from __future__ import annotations

from typing import Iterator, List, Optional

from spacy.tokens import Doc
from spacy.vocab import Vocab

from .files import PathLike, open_text, require_file


def read_conllu(
    path: PathLike, *, n_sents: int = 10, limit: Optional[int] = None, vocab: Optional[Vocab] = None
) -> List[Doc]:
    """UD CoNLL-U as docs of ``n_sents`` sentences (``limit`` = max sentences read)."""
    from spacy.training.converters import conllu_to_docs

    p = require_file(path, "CoNLL-U file")
    with open_text(p) as f:
        text = f.read()
    if limit is not None:
        blocks = text.strip().split("\n\n")[:limit]
        text = "\n\n".join(blocks) + "\n\n"
    docs = list(conllu_to_docs(text, n_sents=n_sents, no_print=True))
    if vocab is not None:
        docs = [Doc(vocab).from_bytes(d.to_bytes()) for d in docs]
    return docs


def iter_conllu_blocks(path: PathLike) -> Iterator[tuple]:
    """Yield ``(sent_id, block_text)`` for each sentence of a CoNLL-U file."""
    with open_text(require_file(path, "CoNLL-U file")) as f:
        block: List[str] = []
        for line in f:
            if line.strip():
                block.append(line)
                continue
            if block:
                yield _sent_id(block), "".join(block)
            block = []
        if block:
            yield _sent_id(block), "".join(block)


def _sent_id(block: List[str]) -> str:
    for line in block:
        if line.startswith("# sent_id"):
            return line.split("=", 1)[1].strip()
    return ""
