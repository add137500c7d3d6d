"""``spacy-transfer init config``: write a complete starter config."""

from __future__ import annotations

import typer
from wasabi import msg

from ..core.config import ConfigRequest
from ..core.config.generate import EMBEDDING, OPTIMIZE, PIPES, generate_config
from ._app import init_app
from ._util import VerboseOpt, handle_errors, listify, write_or_print

EPILOG = """Examples:

  spacy-transfer init config config.cfg --lang en --pipeline tagger,parser,ner

  spacy-transfer init config config.cfg --pipeline ner,textcat --optimize accuracy --embedding independent

  spacy-transfer init config trf.cfg --pipeline tagger,ner --transformer ./my-encoder

  spacy-transfer init config trf.cfg --pipeline ner --transformer roberta-base --freeze-layers 6

  spacy-transfer init config lora.cfg --pipeline tagger,parser --transformer bert-base-cased --adapter lora

  spacy-transfer init config - --pipeline ner --vectors ./vectors --pretraining > config.cfg

  spacy-transfer init config embed.cfg --doc-vectors --transformer ./all-MiniLM-L6-v2

  python -m spacy assemble embed.cfg ./embedder   (then spacy.load("./embedder")(text).vector)
"""


FreezeLayersOpt = typer.Option(
    0,
    "--freeze-layers",
    "-fl",
    help="Keep the transformer's embeddings and its bottom N layers as loaded (0: train them all).",
)
AdapterOpt = typer.Option(
    None,
    "--adapter",
    "-a",
    help="Parameter-efficient fine-tuning of the transformer: 'lora' trains LoRA adapters (r=8, needs peft) "
    "and the heads, not the encoder's weights.",
    show_default=False,
)
DocVectorsOpt = typer.Option(
    False,
    "--doc-vectors",
    "-dv",
    help="Contextual Doc/Span/Token vectors and similarity from the transformer (mean pooling, normalized); "
    "without --pipeline, a transformer alone: an embedding pipeline.",
)


@init_app.command("config", epilog=EPILOG)
def init_config_cli(
    output: str = typer.Argument(..., help="File to write the config to, or '-' for stdout."),
    lang: str = typer.Option("en", "--lang", "-l", help="Two-letter language code, e.g. 'en'."),
    pipeline: str = typer.Option(
        None,
        "--pipeline",
        "-p",
        help=f"Comma-separated components: {', '.join(PIPES)}. Default: tagger,parser,ner (none with --doc-vectors).",
        show_default=False,
    ),
    optimize: str = typer.Option("efficiency", "--optimize", "-o", help=f"One of: {', '.join(OPTIMIZE)}."),
    gpu: bool = typer.Option(
        False, "--gpu", "-G", help="Use a transformer (the language's default unless --transformer is given)."
    ),
    transformer: str = typer.Option(
        None,
        "--transformer",
        "-t",
        help="Hugging Face encoder name or local folder; implies a transformer pipeline.",
    ),
    vectors: str = typer.Option(
        None, "--vectors", "-v", help="Vectors pipeline name or folder to use as static features."
    ),
    embedding: str = typer.Option(
        "shared",
        "--embedding",
        "-e",
        help=f"One of: {', '.join(EMBEDDING)}: one tok2vec/transformer with listeners, or one per component.",
    ),
    pretraining: bool = typer.Option(False, "--pretraining", "-pt", help="Add the [pretraining] block."),
    freeze_layers: int = FreezeLayersOpt,
    adapter: str = AdapterOpt,
    doc_vectors: bool = DocVectorsOpt,
    force: bool = typer.Option(False, "--force", "-F", help="Overwrite an existing output file."),
    verbose: bool = VerboseOpt,
) -> None:
    """Write a complete training config for a pipeline (no missing values)."""
    with handle_errors(verbose):
        req = ConfigRequest(
            lang=lang,
            pipeline=listify(
                pipeline if pipeline is not None else ("" if doc_vectors else "tagger,parser,ner")
            ),
            optimize=optimize,
            gpu=gpu,
            transformer=transformer,
            vectors=vectors,
            embedding=embedding,
            doc_vectors=doc_vectors,
            freeze_layers=freeze_layers,
            adapter=adapter,
        )
        text = generate_config(req, pretraining=pretraining)
        write_or_print(text, output, force)
        if output != "-":
            msg.good(f"Saved config to {output}")
            msg.text(_next_step(output, embedding_only=not req.pipeline))


def _next_step(output: str, embedding_only: bool) -> str:
    if embedding_only:  # an embedding pipeline: nothing to train
        return f"Build it with: python -m spacy assemble {output} ./embedder"
    return f"Train with: spacy-transfer train {output} --paths.train ./train.spacy --paths.dev ./dev.spacy"
