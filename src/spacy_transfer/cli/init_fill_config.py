"""``spacy-transfer init fill-config``: complete a partial config with every default."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from ..core.config import config_diff, fill_config, import_code, load_config, source_name
from ._app import OVERRIDES_CONTEXT, init_app
from ._util import CodeOpt, VerboseOpt, handle_errors, overrides_from, write_or_print

EPILOG = """Examples:

  spacy-transfer init fill-config base.cfg config.cfg

  spacy-transfer init fill-config config.cfg config_pretrain.cfg --pretraining

  spacy-transfer init fill-config base.cfg - --code code.py --diff

  cat base.cfg | spacy-transfer init fill-config - config.cfg
"""


@init_app.command("fill-config", epilog=EPILOG, context_settings=OVERRIDES_CONTEXT)
def init_fill_config_cli(
    ctx: typer.Context,
    base_path: str = typer.Argument(..., help="Partial config to fill, or '-' for stdin."),
    output: str = typer.Argument("-", help="File to write the filled config to, or '-' for stdout."),
    pretraining: bool = typer.Option(
        False, "--pretraining", "-pt", help="Add the [pretraining] block with its defaults."
    ),
    diff: bool = typer.Option(False, "--diff", "-D", help="Print what was added or changed."),
    code: Optional[Path] = CodeOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Fill in every default value of a partial config and validate it."""
    with handle_errors(verbose):
        import_code(code)
        overrides = overrides_from(ctx)
        where = source_name(base_path)
        config = load_config(base_path, overrides)
        filled = fill_config(config, pretraining=pretraining, where=where)
        text = filled.to_str()
        write_or_print(text, output, force=True)
        if output != "-":
            msg.good(f"Saved filled config to {output}")
        if diff:
            before = config.to_str()
            msg.divider("Changes")
            print(config_diff(before, text) or "(nothing added)")
