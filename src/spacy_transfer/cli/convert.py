"""``spacy-transfer convert``: CoNLL-U (+ UNER NER) or IOB2 files to ``.spacy`` corpora."""

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
"""


@app.command("convert", epilog=EPILOG)
def convert_cli(
    source: Path = typer.Argument(..., help="A .conllu or .iob2 file (gzipped is fine)."),
    output: Path = typer.Argument(..., help="The .spacy file to write."),
    ner: Optional[Path] = typer.Option(None, "--ner", help="UNER-style .iob2 file whose entities are attached to the matching CoNLL-U sentences."),
    n_sents: int = typer.Option(10, "--n-sents", "-n", help="Sentences per document."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Read at most this many sentences."),
    verbose: bool = VerboseOpt,
) -> None:
    """Convert a treebank or NER file into a spaCy training corpus (.spacy)."""
    from ..core.corpora import convert_file

    with handle_errors(verbose):
        stats = convert_file(source, output, ner=ner, n_sents=n_sents, limit=limit)
        msg.good(f"Wrote {stats['docs']} docs ({stats['sents']} sentences, {stats['words']} words, {stats['ents']} entities) to {output}")
