"""``spacy-transfer migrate``: a spacy-transformers 1.x or 2.x pipeline rewritten in our format."""

from __future__ import annotations

from pathlib import Path

import typer
from wasabi import msg

from ._app import app
from ._util import VerboseOpt, handle_errors

EPILOG = """Examples:

  spacy-transfer migrate old-trf-pipeline/ new-pipeline/

  spacy-transfer migrate en_core_web_trf-3.7.3/en_core_web_trf/en_core_web_trf-3.7.3 ./en_core_web_trf --force
"""


@app.command("migrate", epilog=EPILOG)
def migrate_cli(
    source: Path = typer.Argument(
        ..., help="A pipeline folder saved by spacy-transformers 1.x or 2.x (or by us)."
    ),
    output: Path = typer.Argument(..., help="The folder to write (safetensors weights, no pickles)."),
    force: bool = typer.Option(False, "--force", "-F", help="Replace OUTPUT if it exists."),
    verbose: bool = VerboseOpt,
) -> None:
    """Rewrite a pipeline saved by spacy-transformers so that it loads without any pickle reader."""
    from ..compat.migrate import migrate_pipeline

    with handle_errors(verbose):
        info = migrate_pipeline(source, output, force=force)
        done = ", ".join(info["converted"]) or "none (already in our format)"
        msg.good(
            f"Wrote {output} (components: {', '.join(info['components'])}; converted from spacy-transformers: {done})"
        )
