"""``spacy-transfer evaluate``: score a trained pipeline on a ``.spacy`` corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ._app import app
from ._util import CodeOpt, GpuOpt, VerboseOpt, handle_errors

EPILOG = """Examples:

  spacy-transfer evaluate training/model-best dev.spacy

  spacy-transfer evaluate training/model-best dev.spacy --output scores.json

  spacy-transfer evaluate training/model-best dev.spacy --per-component --output -
"""


@app.command("evaluate", epilog=EPILOG)
def evaluate_cli(
    model: str = typer.Argument(..., help="Pipeline folder (e.g. training/model-best) or installed package."),
    data_path: Path = typer.Argument(..., help="Evaluation data: a .spacy file or a folder of them."),
    output: Optional[str] = typer.Option(
        None, "--output", "-o", help="Write the scores as JSON to this file ('-' prints JSON only)."
    ),
    code: Optional[Path] = CodeOpt,
    gpu_id: int = GpuOpt,
    gold_preproc: bool = typer.Option(
        False, "--gold-preproc", "-G", help="Use the gold tokenization and sentences."
    ),
    per_component: bool = typer.Option(
        False, "--per-component", "-P", help="Scores per component (keyed by component name)."
    ),
    verbose: bool = VerboseOpt,
) -> None:
    """Evaluate a pipeline: accuracy and speed on annotated data, as a table and JSON."""
    from wasabi import msg

    from ..core.config import import_code
    from ..core.devices import setup_device
    from ..core.io import atomic_write_text
    from ..core.training.evaluate import evaluate_pipeline, headline_rows, json_scores, per_type_tables

    with handle_errors(verbose):
        import_code(code)
        setup_device(gpu_id)
        scores = evaluate_pipeline(model, data_path, gold_preproc=gold_preproc, per_component=per_component)
        data = scores if per_component else json_scores(scores)
        text = json.dumps(data, indent=2, default=str)
        if output == "-":
            print(text)
            return
        if per_component:
            # Component names map to their scores; pipeline-wide numbers (speed, tokens) sit beside them.
            overall = {k: v for k, v in scores.items() if not isinstance(v, dict)}
            if overall:
                msg.table(headline_rows(overall), title="Results")
            for component, comp_scores in scores.items():
                if isinstance(comp_scores, dict):
                    rows = headline_rows(comp_scores) or [
                        (k, f"{v:.4f}" if isinstance(v, float) else str(v))
                        for k, v in comp_scores.items()
                        if not isinstance(v, dict)
                    ]
                    msg.table(rows, title=f"Results: {component}")
        else:
            msg.table(headline_rows(scores), title="Results")
            for title, rows in per_type_tables(scores):
                msg.table(rows, header=("", "P", "R", "F"), aligns=("l", "r", "r", "r"), title=title)
        if output:
            atomic_write_text(Path(output), text + "\n")
            msg.good(f"Saved results to {output}")
