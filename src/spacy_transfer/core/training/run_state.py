"""Where a training run is: counters and results so far, the rules to stop it, and what the
run hands back.

Everything here serializes to JSON, so a checkpoint never needs pickle; the random
streams are :mod:`spacy_transfer.core.state`'s.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import numpy
from spacy.language import Language


@dataclass
class TrainState:
    """Counters of a run; ``step`` is the last completed step (-1 before the first)."""

    step: int = -1
    epoch: int = 0
    # (score, step) of every evaluation, as spaCy keeps them for best/patience.
    results: List[Tuple[float, int]] = field(default_factory=list)
    # Losses summed since the last evaluation (reset after each one, as in spaCy).
    losses: Dict[str, float] = field(default_factory=dict)
    words: int = 0
    elapsed_s: float = 0.0
    # How many times the optimizer's schedules were stepped (one per step).
    schedule_steps: int = 0
    # One row per evaluation: what metrics.jsonl and training.png show.
    history: List[Dict[str, Any]] = field(default_factory=list)
    finished: bool = False

    @property
    def best(self) -> Optional[Tuple[float, int]]:
        """(score, step) of the best evaluation; the earliest wins a tie, as in spaCy."""
        if not self.results:
            return None
        score, neg_step = max((s, -st) for s, st in self.results)
        return score, -neg_step

    def logger_info(self, score: Optional[float], scores: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        """The dict spaCy's training loggers are given after each evaluation."""
        return {
            "epoch": self.epoch,
            "step": self.step,
            "score": score,
            "other_scores": scores,
            "losses": self.losses,
            "checkpoints": list(self.results),
            "seconds": int(self.elapsed_s),
            "words": self.words,
        }

    def to_json(self) -> Dict[str, Any]:
        data = asdict(self)
        data["results"] = [[float(sc), int(st)] for sc, st in self.results]
        # Components sum their losses as numpy float32 or Python float; keep the type so
        # the sums continue exactly as in an uninterrupted run.
        data["losses"] = {
            k: [float(v), "float32" if isinstance(v, numpy.float32) else "float"]
            for k, v in self.losses.items()
        }
        return data

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "TrainState":
        data = dict(data)
        data["results"] = [(float(s), int(st)) for s, st in data.get("results", [])]
        data["losses"] = {
            k: numpy.float32(v) if kind == "float32" else float(v)
            for k, (v, kind) in data.get("losses", {}).items()
        }
        return cls(**data)


def should_stop(state: TrainState, *, patience: int, max_steps: int) -> bool:
    """spaCy's stopping rules, checked after each step."""
    best = state.best
    if patience and best is not None and (state.step - best[1]) >= patience:
        return True
    return bool(max_steps) and state.step >= max_steps


@dataclass
class TrainResult:
    nlp: Language
    state: TrainState
    output: Optional[Path]
    interrupted: Optional[int] = None  # the signal number when stopped by Ctrl-C / SIGTERM


class ConfigLogger(NamedTuple):
    """A [training] logger other than spaCy's console one: spaCy's (log_step, finalize) pair."""

    log_step: Callable[[Optional[Dict[str, Any]]], None]
    finalize: Callable[[], None]
