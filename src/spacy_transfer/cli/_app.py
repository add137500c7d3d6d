"""The Typer application tree: ``spacy-transfer`` and its ``init`` group."""

from __future__ import annotations

import typer

HELP = """Transfer learning for spaCy pipelines: shared tok2vec layers, transformers,
static vectors and pretraining. Commands mirror spaCy's (`init config`, `train`, ...)."""

app = typer.Typer(
    name="spacy-transfer",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
init_app = typer.Typer(
    help="Create configs and vectors: `init config`, `init fill-config`, `init vectors`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(init_app, name="init")

# Commands that take config overrides as extra `--section.key value` options.
OVERRIDES_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}
