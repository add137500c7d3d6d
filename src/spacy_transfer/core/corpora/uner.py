"""UNER's NER files: IOB2 in its column layout (``ID TOKEN TAG ...``, ``#`` comments), alone
or joined to the UD treebank whose sentences they annotate."""

from __future__ import annotations

from typing import Iterator, List, Optional

from spacy.tokens import Doc
from spacy.training import biluo_tags_to_spans, iob_to_biluo
from spacy.vocab import Vocab

from ...errors import UserError
from .conllu import iter_conllu_blocks
from .files import PathLike, open_text, require_file

# UNER's draft train file uses tags outside PER/ORG/LOC; its README says to map them to O.
UNER_TAG_MAP = {"B-OTH": "O", "I-OTH": "O", "B-O": "O", "I-O": "O"}


def iter_iob2_sentences(path: PathLike, tag_map: Optional[dict] = None) -> Iterator[tuple]:
    """Yield ``(words, tags)`` per sentence of a UNER-style IOB2 file."""
    tag_map = UNER_TAG_MAP if tag_map is None else tag_map
    words: List[str] = []
    tags: List[str] = []
    with open_text(require_file(path, "IOB2 file")) as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                if words:
                    yield words, tags
                words, tags = [], []
                continue
            if line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) < 3:
                raise UserError(
                    f"Malformed IOB2 line {lineno} in {path}: expected 'ID<TAB>TOKEN<TAB>TAG'",
                    rows=[(f"line {lineno}", line[:80])],
                )
            words.append(cols[1])
            tags.append(tag_map.get(cols[2], cols[2]))
    if words:
        yield words, tags


def read_iob2(
    path: PathLike, *, n_sents: int = 10, limit: Optional[int] = None, vocab: Optional[Vocab] = None
) -> List[Doc]:
    """UNER IOB2 as docs with entities, ``n_sents`` sentences per doc."""
    vocab = vocab or Vocab()
    docs: List[Doc] = []
    batch: List[tuple] = []

    def flush() -> None:
        if not batch:
            return
        words = [w for ws, _ in batch for w in ws]
        tags = [t for _, ts in batch for t in ts]
        sent_starts = [i == 0 for ws, _ in batch for i in range(len(ws))]
        doc = Doc(vocab, words=words, sent_starts=sent_starts)
        doc.ents = biluo_tags_to_spans(doc, iob_to_biluo(tags))
        docs.append(doc)
        batch.clear()

    for i, sent in enumerate(iter_iob2_sentences(path)):
        if limit is not None and i >= limit:
            break
        batch.append(sent)
        if len(batch) >= n_sents:
            flush()
    flush()
    return docs


def read_ud_with_ner(
    conllu: PathLike,
    iob2: PathLike,
    *,
    n_sents: int = 10,
    limit: Optional[int] = None,
    vocab: Optional[Vocab] = None,
) -> List[Doc]:
    """UD sentences with UNER entities attached where the sentence ids and words match.

    Sentences without a matching UNER sentence keep *missing* NER annotation (not "O"),
    so a joint tagger+parser+ner pipeline trains on one corpus without false negatives.
    """
    from spacy.training.converters import conllu_to_docs

    vocab = vocab or Vocab()
    ner: dict = {}
    for sent_id, words, tags in _iter_iob2_with_ids(iob2):
        ner[sent_id] = (words, tags)
    sentences: List[Doc] = []
    for i, (sent_id, block) in enumerate(iter_conllu_blocks(conllu)):
        if limit is not None and i >= limit:
            break
        doc = next(iter(conllu_to_docs(block, n_sents=1, no_print=True)))
        doc = Doc(vocab).from_bytes(doc.to_bytes())
        match = ner.get(sent_id)
        if match is not None and match[0] == [t.text for t in doc]:
            doc.ents = biluo_tags_to_spans(doc, iob_to_biluo(match[1]))
        sentences.append(doc)
    return [Doc.from_docs(sentences[i : i + n_sents]) for i in range(0, len(sentences), n_sents)]


def _iter_iob2_with_ids(path: PathLike) -> Iterator[tuple]:
    sent_id = ""
    words: List[str] = []
    tags: List[str] = []
    with open_text(require_file(path, "IOB2 file")) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# sent_id"):
                sent_id = line.split("=", 1)[1].strip()
            elif line.startswith("#"):
                continue
            elif not line.strip():
                if words:
                    yield sent_id, words, tags
                words, tags = [], []
            else:
                cols = line.split("\t")
                words.append(cols[1])
                tags.append(UNER_TAG_MAP.get(cols[2], cols[2]))
    if words:
        yield sent_id, words, tags
