"""``spacy-transfer train``: train a pipeline from a config, resumable."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

from ._app import OVERRIDES_CONTEXT, app
from ._util import VerboseOpt, handle_errors, overrides_from

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
    code: Optional[Path] = typer.Option(
        None, "--code", "-c", help="Python file with registered functions to import first."
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for the CPU."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue from OUTPUT/checkpoint exactly where the run stopped."
    ),
    nproc: int = typer.Option(
        1,
        "--nproc",
        help="Data-parallel worker processes through torch.distributed (gloo on CPU, NCCL with one GPU per rank).",
    ),
    verbose: bool = VerboseOpt,
) -> None:
    """Train or update a pipeline. Same config and semantics as 'spacy train', plus
    --resume, a progress bar, metrics.jsonl and training.png."""
    from wasabi import msg

    from ..core.config import load_training_config
    from ..core.training import train

    if verbose:
        logging.getLogger("spacy").setLevel(logging.DEBUG)
    from ..core import distributed

    with handle_errors(verbose):
        if distributed.relaunch(nproc, config_path):
            return
        with distributed.rank_errors():
            import spacy_transfer  # noqa: F401  (registers our names before the config resolves)

            config = load_training_config(config_path, overrides_from(ctx), code)
            dist_ctx = distributed.init_from_env(use_gpu=gpu_id >= 0)
            strategy = distributed.DistributedStrategy(dist_ctx) if dist_ctx else None
            if dist_ctx is not None and gpu_id >= 0:
                gpu_id = dist_ctx.local_rank  # one GPU per rank
            if output is None and (dist_ctx is None or dist_ctx.is_main):
                msg.info("No --output given: nothing will be saved")
            where = "standard input" if config_path == "-" else config_path
            try:
                result = train(config, output, use_gpu=gpu_id, resume=resume, where=where, strategy=strategy)
            finally:
                distributed.shutdown()
    if result.interrupted is not None:
        raise typer.Exit(128 + int(result.interrupted))
