"""Read the corpora the tools train and pretrain on.

- CoNLL-U treebanks (UD) through spaCy's own converter;
- IOB2 NER files in the UNER column layout (``ID TOKEN TAG ...``, ``#`` comments);
- raw text for pretraining and vector training: JSONL (``{"text": ...}``), plain text
  (one document per line) and ``.spacy``, each optionally gzipped, streamed.

Docs are written as ``.spacy`` DocBin files atomically.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import IO, Iterable, Iterator, List, Optional, Union

import srsly
from spacy.tokens import Doc, DocBin
from spacy.training import biluo_tags_to_spans, iob_to_biluo
from spacy.vocab import Vocab

from ..errors import UserError
from .io import atomic_write_bytes

PathLike = Union[str, Path]
# UNER's draft train file uses tags outside PER/ORG/LOC; its README says to map them to O.
UNER_TAG_MAP = {"B-OTH": "O", "I-OTH": "O", "B-O": "O", "I-O": "O"}


def _require_file(path: PathLike, what: str) -> Path:
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


def read_conllu(
    path: PathLike, *, n_sents: int = 10, limit: Optional[int] = None, vocab: Optional[Vocab] = None
) -> List[Doc]:
    """UD CoNLL-U as docs of ``n_sents`` sentences (``limit`` = max sentences read)."""
    from spacy.training.converters import conllu_to_docs

    p = _require_file(path, "CoNLL-U file")
    with open_text(p) as f:
        text = f.read()
    if limit is not None:
        blocks = text.strip().split("\n\n")[:limit]
        text = "\n\n".join(blocks) + "\n\n"
    docs = list(conllu_to_docs(text, n_sents=n_sents, no_print=True))
    if vocab is not None:
        docs = [Doc(vocab).from_bytes(d.to_bytes()) for d in docs]
    return docs


def iter_iob2_sentences(path: PathLike, tag_map: Optional[dict] = None) -> Iterator[tuple]:
    """Yield ``(words, tags)`` per sentence of a UNER-style IOB2 file."""
    tag_map = UNER_TAG_MAP if tag_map is None else tag_map
    words: List[str] = []
    tags: List[str] = []
    with open_text(_require_file(path, "IOB2 file")) as f:
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


def iter_conllu_blocks(path: PathLike) -> Iterator[tuple]:
    """Yield ``(sent_id, block_text)`` for each sentence of a CoNLL-U file."""
    with open_text(_require_file(path, "CoNLL-U file")) as f:
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
    with open_text(_require_file(path, "IOB2 file")) as f:
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


def write_docbin(docs: Iterable[Doc], path: PathLike) -> Path:
    """Save docs as a ``.spacy`` file, atomically."""
    db = DocBin(store_user_data=False)
    for doc in docs:
        db.add(doc)
    atomic_write_bytes(path, db.to_bytes())
    return Path(path)


def iter_raw_texts(path: PathLike, *, min_chars: int = 1) -> Iterator[str]:
    """Stream texts from ``.jsonl``, ``.txt`` (one doc per line) or ``.spacy`` (``.gz`` too)."""
    p = _require_file(path, "Raw text file")
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


# spaCy's converters (``spacy convert -c NAME``), used as they are where we add nothing.
SPACY_CONVERTERS = ("conllu", "conllubio", "conll", "ner", "iob", "json")
CONVERTERS = ("auto", "iob2", *SPACY_CONVERTERS)


def pick_converter(source: PathLike, converter: str) -> str:
    """The converter for ``source``: as given, or by file extension (and, for spaCy's NER
    formats, by looking at the text, as ``spacy convert`` does)."""
    if converter not in CONVERTERS:
        raise UserError(
            f"Unknown converter '{converter}'",
            rows=[("--converter", converter)],
            hint=f"Use one of: {', '.join(CONVERTERS)} (auto picks by file extension).",
        )
    if converter != "auto":
        return converter
    name = Path(source).name.removesuffix(".gz")
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    if suffix in ("conllu", "iob2", "json"):
        return suffix
    if suffix in ("conll", "iob", "ner", "txt", "tsv"):
        from spacy.cli.convert import autodetect_ner_format

        with open_text(source) as f:
            detected = autodetect_ner_format(f.read(200_000))
        if detected in ("ner", "iob"):
            return detected
        if suffix == "iob":
            return "iob2"  # a token-per-line column file (ID TOKEN TAG), UNER style
    raise UserError(
        f"Unknown corpus format: {source}",
        rows=[("source", name)],
        hint=f"Give a .conllu, .iob2, .iob, .conll or .json file (optionally .gz), or pass --converter, "
        f"one of: {', '.join(CONVERTERS[1:])}.",
    )


def _spacy_convert(source: Path, converter: str, n_sents: int, limit: Optional[int]) -> List[Doc]:
    import importlib

    converters = importlib.import_module("spacy.cli.convert").CONVERTERS
    with open_text(source) as f:
        text = f.read()
    if limit is not None and converter != "json":
        text = "\n\n".join(text.strip().split("\n\n")[:limit]) + "\n\n"
    try:
        if converter == "json":
            return list(converters[converter](text, no_print=True))
        return list(
            converters[converter](
                text, n_sents=n_sents, no_print=True, append_morphology=converter == "conllubio"
            )
        )
    except UserError:
        raise
    except Exception as e:  # spaCy's converters raise ValueError/KeyError/IndexError on bad lines
        raise UserError(
            f"Could not convert {source} with the '{converter}' converter",
            rows=[(str(source), " ".join(str(e).split())[:200])],
            hint="Check that the file is in that format, or pass another --converter.",
        ) from None


def convert_file(
    source: PathLike,
    output: PathLike,
    *,
    converter: str = "auto",
    ner: Optional[PathLike] = None,
    n_sents: int = 10,
    limit: Optional[int] = None,
) -> dict:
    """Convert a corpus file to ``.spacy``: ``.conllu`` (optionally with UNER ``ner``),
    UNER ``.iob2``, or any format of ``spacy convert`` (through spaCy's converters)."""
    if n_sents < 1:
        raise UserError(f"--n-sents must be at least 1, got {n_sents}")
    kind = pick_converter(source, converter)
    src = _require_file(source, "Corpus file")
    out = Path(output)
    if out.is_dir():
        raise UserError(
            f"The output {out} is a folder", hint=f"Give the .spacy file to write, e.g. {out}/train.spacy."
        )
    if ner is not None and kind != "conllu":
        raise UserError(
            "--ner only applies to CoNLL-U sources", hint="Other NER formats already hold the entities."
        )
    if kind == "conllu" and ner is not None:
        docs = read_ud_with_ner(src, ner, n_sents=n_sents, limit=limit)
    elif kind == "conllu":
        docs = read_conllu(src, n_sents=n_sents, limit=limit)
    elif kind == "iob2":
        docs = read_iob2(src, n_sents=n_sents, limit=limit)
    else:
        docs = _spacy_convert(src, kind, n_sents, limit)
    if not docs:
        raise UserError(
            f"No sentences found in {source}", hint="Is the file empty, or in another format (--converter)?"
        )
    write_docbin(docs, out)
    return {
        "docs": len(docs),
        "sents": sum(len(list(d.sents)) if d.has_annotation("SENT_START") else 1 for d in docs),
        "words": sum(len(d) for d in docs),
        "ents": sum(len(d.ents) for d in docs),
        "converter": kind,
    }
