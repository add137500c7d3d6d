"""``spacy-transfer pretrain``: pretrain a tok2vec layer or a transformer on raw text."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional, Tuple

import typer

from ._app import OVERRIDES_CONTEXT, app
from ._util import CodeOpt, GpuOpt, NprocOpt, VerboseOpt, handle_errors, overrides_from

if TYPE_CHECKING:
    from thinc.api import Config

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


KeepStatesOpt = typer.Option(
    1,
    "--keep-states",
    help="Resume states kept, beside the newest N epoch weights (model-last keeps its own); -1 keeps one beside every file. Each state is several times the size of its weights.",
)


@app.command("pretrain", epilog=EPILOG, context_settings=OVERRIDES_CONTEXT)
def pretrain_cli(
    ctx: typer.Context,
    config_path: str = typer.Argument(..., help="Config with a [pretraining] block, or '-' for stdin."),
    output_dir: Path = typer.Argument(
        ..., help="Folder for the weights of each epoch, the resume states and log.jsonl."
    ),
    code: Optional[Path] = CodeOpt,
    resume_path: Optional[Path] = typer.Option(
        None, "--resume-path", "-r", help="A model{N}.bin (or .temp.bin / model-last.bin) to continue from."
    ),
    epoch_resume: Optional[int] = typer.Option(
        None,
        "--epoch-resume",
        "-er",
        help="Epoch to continue counting from (read from the file's name or resume state if omitted).",
    ),
    gpu_id: int = GpuOpt,
    skip_last: bool = typer.Option(False, "--skip-last", "-L", help="Do not write model-last.bin."),
    keep_states: int = KeepStatesOpt,
    nproc: int = NprocOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Pretrain the tok2vec layer (characters or vectors objective) or the transformer
    (masked language model) named in [pretraining], on raw text."""
    from ..core.distributed import Launch, run_on_ranks
    from ..core.memory import bound_heap_growth

    def body(launch: Launch) -> None:
        from ..core.pretraining import PretrainRecipe
        from ..core.recipe import RunOptions

        config, where = _load_config(ctx, config_path, code)
        options = RunOptions(use_gpu=launch.gpu_id, strategy=launch.strategy, where=where)
        recipe = PretrainRecipe(
            config,
            output_dir,
            options,
            resume_path=resume_path,
            epoch_resume=epoch_resume,
            skip_last=skip_last,
            keep_states=keep_states,
        )
        result = recipe.execute()
        recipe.reporter.good(
            f"Pretrained {result.words:,} words in epochs {result.start_epoch}-{result.end_epoch} "
            f"({result.words_per_second:,.0f} words/s); weights in {output_dir}"
        )

    # Measured for pretraining only (masked LM: 4.0 -> 2.35 GB, not slower); prediction pays
    # for it in page faults, so the library never sets it and other commands leave it alone.
    bound_heap_growth()
    with handle_errors(verbose):
        run_on_ranks(nproc, config_path, gpu_id, body)


def _load_config(ctx: typer.Context, config_path: str, code: Optional[Path]) -> Tuple["Config", str]:
    """The config with overrides applied, its registered names and settings checked."""
    from ..core.config import (
        check_registered_names,
        check_unknown_settings,
        import_code,
        load_config,
        source_name,
    )

    import_code(code)
    where = source_name(config_path)
    config = load_config(config_path, overrides_from(ctx))
    check_registered_names(config, where=where)  # typos get the closest known names
    check_unknown_settings(config, where=where)
    return config, where
