"""``spacy-transfer pretrain``: pretrain a tok2vec layer or a transformer on raw text."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from wasabi import msg

from ._app import OVERRIDES_CONTEXT, app
from ._util import VerboseOpt, handle_errors, overrides_from

if TYPE_CHECKING:
    from ..core.distributed import DistContext

EPILOG = """Examples:

  spacy-transfer init fill-config config.cfg config_pt.cfg --pretraining

  spacy-transfer pretrain config_pt.cfg ./pretrain --paths.raw_text text.jsonl

  spacy-transfer pretrain config_pt.cfg ./pretrain --paths.raw_text corpus.txt.gz --pretraining.max_epochs 10

  spacy-transfer pretrain config_pt.cfg ./pretrain --paths.raw_text text.jsonl --resume-path ./pretrain/model4.bin

  spacy-transfer pretrain config_pt.cfg ./pretrain --paths.raw_text text.jsonl --nproc 2      (2 worker processes)

  torchrun --nnodes 2 --nproc-per-node 4 --rdzv-endpoint host:29500 -m spacy_transfer pretrain config_pt.cfg ./pretrain --gpu-id 0

  spacy-transfer train config.cfg --paths.init_tok2vec ./pretrain/model-last.bin ...

Raw text: JSONL ({"text": ...} per line), plain text (one document per line) or .spacy,
optionally gzipped, or a folder of such files. Each epoch writes model{N}.bin (the
layer's weights, for [initialize] init_tok2vec) and model{N}.state.safetensors (output
layer, optimizer and random states, for an exact --resume-path).
"""


@app.command("pretrain", epilog=EPILOG, context_settings=OVERRIDES_CONTEXT)
def pretrain_cli(
    ctx: typer.Context,
    config_path: str = typer.Argument(..., help="Config with a [pretraining] block, or '-' for stdin."),
    output_dir: Path = typer.Argument(
        ..., help="Folder for the weights of each epoch, the resume states and log.jsonl."
    ),
    code: Optional[Path] = typer.Option(
        None, "--code", "-c", help="Python file with registered functions to import first."
    ),
    resume_path: Optional[Path] = typer.Option(
        None, "--resume-path", "-r", help="A model{N}.bin (or .temp.bin / model-last.bin) to continue from."
    ),
    epoch_resume: Optional[int] = typer.Option(
        None,
        "--epoch-resume",
        "-er",
        help="Epoch to continue counting from (read from the file's name or resume state if omitted).",
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU."),
    skip_last: bool = typer.Option(False, "--skip-last", "-L", help="Do not write model-last.bin."),
    keep_states: int = typer.Option(
        1,
        "--keep-states",
        help="Resume states kept, beside the newest N epoch weights (model-last keeps its own); -1 keeps one beside every file. Each state is several times the size of its weights.",
    ),
    nproc: int = typer.Option(
        1,
        "--nproc",
        help="Data-parallel worker processes through torch.distributed (gloo on CPU, NCCL with one GPU per rank).",
    ),
    verbose: bool = VerboseOpt,
) -> None:
    """Pretrain the tok2vec layer (characters or vectors objective) or the transformer
    (masked language model) named in [pretraining], on raw text."""
    from ..core import distributed
    from ..core.memory import bound_heap_growth

    # Measured for pretraining only (masked LM: 4.0 -> 2.35 GB, not slower); prediction pays
    # for it in page faults, so the library never sets it and other commands leave it alone.
    bound_heap_growth()
    with handle_errors(verbose):
        if distributed.relaunch(nproc, config_path):
            return
        with distributed.rank_errors():
            dist_ctx = distributed.init_from_env(use_gpu=gpu_id >= 0)
            try:
                _pretrain(
                    ctx,
                    config_path,
                    output_dir,
                    code,
                    resume_path,
                    epoch_resume,
                    gpu_id,
                    skip_last,
                    keep_states,
                    dist_ctx,
                )
            finally:
                distributed.shutdown()


def _pretrain(
    ctx: typer.Context,
    config_path: str,
    output_dir: Path,
    code: Optional[Path],
    resume_path: Optional[Path],
    epoch_resume: Optional[int],
    gpu_id: int,
    skip_last: bool,
    keep_states: int,
    dist_ctx: Optional["DistContext"],
) -> None:
    from wasabi import Printer

    from ..core.config import check_registered_names, check_unknown_settings, import_code, load_config
    from ..core.distributed import DistributedStrategy, LocalStrategy
    from ..core.pretraining import pretrain
    from ..errors import UserError

    strategy = DistributedStrategy(dist_ctx) if dist_ctx is not None else LocalStrategy()
    printer = msg if strategy.is_main else Printer(no_print=True)  # rank 0 alone prints
    if dist_ctx is not None and gpu_id >= 0:
        gpu_id = dist_ctx.local_rank  # one GPU per rank
    import_code(code)
    overrides = overrides_from(ctx)
    where = "standard input" if config_path == "-" else config_path
    config = load_config(config_path, overrides)
    check_registered_names(config, where=where)  # typos get the closest known names
    check_unknown_settings(config, where=where)
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(
            f"The output path {output_dir} is a file", hint="Give a folder for the pretrained weights."
        )
    if output_dir.exists() and any(output_dir.iterdir()):
        if resume_path:
            printer.warn(
                f"Output folder {output_dir} is not empty: weights of the epochs that follow will be overwritten"
            )
        else:
            printer.warn(
                f"Output folder {output_dir} is not empty: files of the same names will be overwritten"
            )
    device = f"GPU {gpu_id}" if gpu_id >= 0 else "CPU"
    if dist_ctx is not None:
        n = dist_ctx.world_size
        device = f"{n} process{'es' if n > 1 else ''} ({dist_ctx.backend}), " + (
            "one GPU each" if gpu_id >= 0 else "CPU"
        )
    printer.info(f"Using {device}")
    result = pretrain(
        config,
        output_dir,
        resume_path=resume_path,
        epoch_resume=epoch_resume,
        use_gpu=gpu_id,
        skip_last=skip_last,
        keep_states=keep_states,
        printer=printer,
        where=where,
        strategy=strategy,
    )
    printer.good(
        f"Pretrained {result.words:,} words in epochs {result.start_epoch}-{result.end_epoch} "
        f"({result.words_per_second:,.0f} words/s); weights in {output_dir}"
    )
