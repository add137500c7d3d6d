"""``spacy-transfer distill``: a trained pipeline teaches a small, fast one."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import OVERRIDES_CONTEXT, app
from ._util import CodeOpt, GpuOpt, VerboseOpt, handle_errors, overrides_from

EPILOG = """Examples:

  spacy-transfer init config student.cfg --pipeline tagger,parser,ner --optimize efficiency

  spacy-transfer distill trf/model-best student.cfg --output distilled --paths.raw_text text.jsonl --paths.train train.spacy --paths.dev dev.spacy

  spacy-transfer distill trf/model-best student.cfg --output distilled --paths.raw_text text.jsonl --resume

The teacher's annotations are cached in OUTPUT/silver (a repeated or resumed run reuses them);
the student is trained as by 'train' (OUTPUT/model-best, model-last, checkpoint, metrics.jsonl);
OUTPUT/distill.json compares the two.
"""

TemperatureOpt = typer.Option(
    1.0,
    "--temperature",
    "-T",
    help="Softening of both distributions in the KL loss (per token, document, span; parser and ner states stay at 1).",
)
TopKOpt = typer.Option(
    5, "--top-k", help="Teacher probabilities kept per token / document (the cache's size)."
)
GoldFractionOpt = typer.Option(
    0.5, "--gold-fraction", help="Share of gold in the training stream's words (0: silver only)."
)
MaxDocsOpt = typer.Option(0, "--max-docs", help="Raw-text documents to annotate (0: all).")
BatchOpt = typer.Option(64, "--batch-size", help="Documents per teacher batch.")
TransitionsOpt = typer.Option(
    True,
    "--soft-transitions/--hard-transitions",
    help="Parser and ner: learn the teacher's action distribution at each state, or only its parses.",
)
ShardOpt = typer.Option(
    1000, "--shard-size", help="Documents per cache shard (the unit an interrupted annotation resumes from)."
)


@app.command("distill", epilog=EPILOG, context_settings=OVERRIDES_CONTEXT)
def distill_cli(
    ctx: typer.Context,
    teacher: Path = typer.Argument(..., help="The trained teacher pipeline (a folder)."),
    config_path: str = typer.Argument(..., help="The student's training config, or '-' for stdin."),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Folder for the cache, the student and distill.json."
    ),
    code: Optional[Path] = CodeOpt,
    gpu_id: int = GpuOpt,
    resume: bool = typer.Option(
        False, "--resume", help="Continue the student's training from OUTPUT/checkpoint."
    ),
    temperature: float = TemperatureOpt,
    top_k: int = TopKOpt,
    gold_fraction: float = GoldFractionOpt,
    max_docs: int = MaxDocsOpt,
    batch_size: int = BatchOpt,
    shard_size: int = ShardOpt,
    soft_transitions: bool = TransitionsOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Distill TEACHER into the student config's pipeline: the teacher annotates raw text
    (--paths.raw_text), the student learns from those annotations (soft targets where a
    component has a distribution) and from gold data (--paths.train) if given."""
    from ..core.config import check_registered_names, import_code, load_config, source_name
    from ..core.distill import DistillSettings, distill

    with handle_errors(verbose):
        import_code(code)
        overrides = overrides_from(ctx)
        raw_text = overrides.pop("paths.raw_text", None)
        where = source_name(config_path)
        config = load_config(config_path, overrides, interpolate=False)
        check_registered_names(config, where=where)
        raw_text = raw_text or (config.get("paths") or {}).get("raw_text")
        settings = DistillSettings(
            temperature, top_k, gold_fraction, batch_size, shard_size, max_docs, soft_transitions
        )
        distill(
            teacher,
            config,
            output,
            raw_text,
            settings=settings,
            use_gpu=gpu_id,
            resume=resume,
            where=where,
        )
