"""``training.png``: loss and score curves, redrawn after every evaluation."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Dict, List, Sequence

from ..io import atomic_write_bytes


def render_png(history: List[Dict[str, Any]], score_keys: Sequence[str]) -> bytes:
    """Two panels: losses per component, and the weighted score with its parts (in %)."""
    # The Agg canvas directly: no global backend switch, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax_loss, ax_score = fig.subplots(1, 2)
    steps = [row["step"] for row in history]
    components = sorted({c for row in history for c in row["losses"]})
    for comp in components:
        ax_loss.plot(
            steps, [row["losses"].get(comp, float("nan")) for row in history], marker=".", label=comp
        )
    ax_loss.set_title("Loss per component (since previous evaluation)")
    ax_loss.set_xlabel("step")
    ax_loss.set_yscale("symlog")
    for key in score_keys:
        ax_score.plot(
            steps, [100 * row["scores"].get(key, float("nan")) for row in history], marker=".", label=key
        )
    ax_score.plot(
        steps, [100 * row["score"] for row in history], marker="o", color="black", linewidth=2, label="score"
    )
    best = max(history, key=lambda r: (r["score"], -r["step"])) if history else None
    if best is not None:
        ax_score.axvline(best["step"], color="grey", linestyle=":", label=f"best (step {best['step']})")
    ax_score.set_title("Dev scores (%)")
    ax_score.set_xlabel("step")
    for ax in (ax_loss, ax_score):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_plot(path: Path, history: List[Dict[str, Any]], score_keys: Sequence[str]) -> None:
    atomic_write_bytes(path, render_png(history, score_keys))
