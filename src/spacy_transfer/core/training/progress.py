"""What the user sees while training: the evaluation table and the progress.

The table has spaCy's columns (E, #, LOSS per component, scores, SCORE). On a terminal
a tqdm bar below it shows step, words/s, ETA to max_steps and the current losses; when
output is not a terminal, plain progress lines are printed at most every
``PLAIN_EVERY_S`` seconds instead.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Sequence

from ..recipe import Reporter

PLAIN_EVERY_S = 30.0


class TrainingDisplay:
    """Table rows at evaluations; a live bar (TTY) or periodic lines (not a TTY), all
    through the run's :class:`~spacy_transfer.core.recipe.Reporter`."""

    def __init__(
        self, reporter: Reporter, loss_components: Sequence[str], score_cols: Sequence[str], max_steps: int
    ) -> None:
        self.reporter = reporter
        self.loss_components = list(loss_components)
        self.score_cols = list(score_cols)
        self.max_steps = max_steps
        headers = (
            ["E", "#"]
            + [f"LOSS {c.upper()}" for c in self.loss_components]
            + [c.upper() for c in self.score_cols]
            + ["SCORE"]
        )
        self.widths = (
            [3, 6]
            + [max(8, len(h)) for h in headers[2 : 2 + len(self.loss_components)]]
            + [max(6, len(c)) for c in headers[2 + len(self.loss_components) : -1]]
            + [6]
        )
        self.headers = headers
        self.aligns = ["r"] * len(headers)
        self._last_plain = time.monotonic()

    def start(self, initial_step: int) -> None:
        r = self.reporter
        r.row(self.headers, widths=self.widths, aligns=self.aligns, spacing=2)
        r.row(["-" * w for w in self.widths], widths=self.widths, spacing=2)
        if r.use_bar:
            r.open_bar(
                total=(self.max_steps + 1) if self.max_steps else None,
                initial=initial_step + 1,
                unit="step",
                dynamic_ncols=True,
                leave=False,
            )

    def step(
        self, step: int, epoch: int, losses: Dict[str, float], words_per_s: float, steps_per_s: float
    ) -> None:
        if not self.reporter.enabled:
            return
        loss_text = " ".join(f"{k}={v:.2f}" for k, v in losses.items())
        bar = self.reporter.bar
        if bar is not None:
            # Postfix first, so the redraw that update() makes (every 0.1 s) shows it; the
            # first step redraws at once, so short runs show their speed too.
            first = bar.n == bar.initial
            bar.set_postfix_str(f"epoch {epoch}, {words_per_s:,.0f} words/s, {loss_text}", refresh=False)
            bar.update(1)
            if first:
                bar.refresh()
            return
        now = time.monotonic()
        if now - self._last_plain >= PLAIN_EVERY_S:
            self._last_plain = now
            total = f"/{self.max_steps}" if self.max_steps else ""
            eta = ""
            if self.max_steps and steps_per_s > 0:
                eta = f"  ETA {_duration((self.max_steps - step) / steps_per_s)}"
            self.reporter.write(
                f"step {step}{total}  epoch {epoch}  {words_per_s:,.0f} words/s{eta}  {loss_text}"
            )

    def evaluation(self, row: Dict[str, Any]) -> None:
        losses = [f"{float(row['losses'].get(c, 0.0)):.2f}" for c in self.loss_components]
        scores = []
        for col in self.score_cols:
            value = float(row["scores"].get(col, 0.0))
            scores.append(f"{value if col == 'speed' else value * 100:.2f}")
        cells = [row["epoch"], row["step"], *losses, *scores, f"{row['score']:.2f}"]
        self.reporter.row(cells, widths=self.widths, aligns=self.aligns, spacing=2)

    def close(self) -> None:
        """The table is done: the live bar goes, lines print plainly again."""
        self.reporter.close_bar()


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def metrics_row(
    step: int,
    epoch: int,
    losses: Dict[str, float],
    scores: Dict[str, float],
    score: float,
    words: int,
    elapsed_s: float,
    is_best: bool,
) -> Dict[str, Any]:
    return {
        "step": step,
        "epoch": epoch,
        "losses": {k: float(v) for k, v in losses.items()},
        "scores": scores,
        "score": float(score),
        "words": words,
        "words_per_second": round(words / elapsed_s, 1) if elapsed_s > 0 else 0.0,
        "elapsed_s": round(elapsed_s, 3),
        "best": is_best,
    }
