"""``spacy-transfer train``: train a pipeline from a config, resumable."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from ._app import OVERRIDES_CONTEXT, app
from ._util import CodeOpt, GpuOpt, NprocOpt, VerboseOpt, handle_errors, overrides_from

if TYPE_CHECKING:
    from ..core.training import TrainResult

EPILOG = """Examples:

  spacy-transfer train config.cfg --output training --paths.train train.spacy --paths.dev dev.spacy

  spacy-transfer train config.cfg --output training --resume      (continue after Ctrl-C or a crash)

  spacy-transfer train config.cfg --output training --gpu-id 0 --training.max_steps 20000

  cat config.cfg | spacy-transfer train - --output training --code functions.py

  spacy-transfer train config.cfg --output training --nproc 2      (2 worker processes)

  torchrun --nnodes 2 --nproc-per-node 4 --rdzv-endpoint host:29500 -m spacy_transfer train config.cfg --output training --gpu-id 0
"""


@app.command("train", epilog=EPILOG, context_settings=OVERRIDES_CONTEXT)
def train_cli(
    ctx: typer.Context,
    config_path: str = typer.Argument(..., help="Training config, or '-' for stdin."),
    output: Optional[Path] = typer.Option(
        None,
        "--output",
        "--output-path",
        "-o",
        help="Folder for model-best/, model-last/, checkpoint/, metrics.jsonl, training.png.",
    ),
    code: Optional[Path] = CodeOpt,
    gpu_id: int = GpuOpt,
    resume: bool = typer.Option(
        False, "--resume", help="Continue from OUTPUT/checkpoint exactly where the run stopped."
    ),
    nproc: int = NprocOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Train or update a pipeline. Same config and semantics as 'spacy train', plus
    --resume, a progress bar, metrics.jsonl and training.png."""
    if verbose:
        logging.getLogger("spacy").setLevel(logging.DEBUG)
    from ..core.distributed import Launch, run_on_ranks

    def body(launch: Launch) -> TrainResult:
        from ..core.config import load_training_config, source_name
        from ..core.training import train

        config = load_training_config(config_path, overrides_from(ctx), code)
        return train(
            config,
            output,
            resume=resume,
            use_gpu=launch.gpu_id,
            where=source_name(config_path),
            strategy=launch.strategy,
        )

    with handle_errors(verbose):
        result = run_on_ranks(nproc, config_path, gpu_id, body)
    if result is not None and result.interrupted is not None:
        raise typer.Exit(128 + int(result.interrupted))
