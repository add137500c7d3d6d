"""``spacy-transfer convert``'s capability: which converter reads a corpus file, and the
conversion to ``.spacy`` (ours for CoNLL-U with UNER and for IOB2, spaCy's for the rest)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from spacy.tokens import Doc

from ...errors import UserError
from .conllu import read_conllu
from .files import PathLike, open_text, require_file, write_docbin
from .uner import read_iob2, read_ud_with_ner

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
    src = require_file(source, "Corpus file")
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
