"""``spacy-transfer convert``: corpus files to ``.spacy``: CoNLL-U (+ UNER NER), UNER IOB2,
and every format of ``spacy convert`` (through spaCy's own converters)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from ._app import app
from ._util import VerboseOpt, handle_errors

EPILOG = """Examples:

  spacy-transfer convert en_ewt-ud-train.conllu train.spacy

  spacy-transfer convert en_ewt-ud-dev.conllu dev.spacy --ner en_ewt-ud-dev.iob2

  spacy-transfer convert en_ewt-ud-dev.iob2 ner-dev.spacy --n-sents 10 --limit 500

  spacy-transfer convert eng.train train.spacy --converter ner      (CoNLL-2003 style)
"""


@app.command("convert", epilog=EPILOG)
def convert_cli(
    source: Path = typer.Argument(
        ..., help="A corpus file: .conllu, .iob2, or a spacy convert format (gzipped is fine)."
    ),
    output: Path = typer.Argument(..., help="The .spacy file to write."),
    converter: str = typer.Option(
        "auto",
        "--converter",
        "-c",
        help="auto (by extension), iob2 (UNER columns), or one of spacy convert's: conllu, conllubio, conll, ner, iob, json.",
    ),
    ner: Optional[Path] = typer.Option(
        None,
        "--ner",
        help="UNER-style .iob2 file whose entities are attached to the matching CoNLL-U sentences.",
    ),
    n_sents: int = typer.Option(10, "--n-sents", "-n", help="Sentences per document."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Read at most this many sentences."),
    verbose: bool = VerboseOpt,
) -> None:
    """Convert a treebank or NER file into a spaCy training corpus (.spacy)."""
    from ..core.corpora import convert_file

    with handle_errors(verbose):
        stats = convert_file(source, output, converter=converter, ner=ner, n_sents=n_sents, limit=limit)
        msg.good(
            f"Wrote {stats['docs']} docs with the {stats['converter']} converter ({stats['sents']} sentences, {stats['words']} words, {stats['ents']} entities) to {output}"
        )
