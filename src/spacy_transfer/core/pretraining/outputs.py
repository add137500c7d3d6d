"""What pretraining writes: model{N}.bin (spaCy's weights format), a resume state beside
the newest ones, config.cfg and log.jsonl; and where a run stands (:class:`Position`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from ..distributed.strategy import LocalStrategy
from ..io import atomic_write_bytes, atomic_write_text
from ..recipe import Reporter
from ..state import model_arrays, optimizer_arrays, optimizer_counters, rng_state, stable_keys
from . import state_file as st
from .progress import ProgressTracker
from .setup import PretrainSetup

MODEL_NAME = re.compile(r"model(\d+)\.bin$")
STATE_NAME = re.compile(r"model(\d+)(\.temp)?\.state")
LAST = "model-last"


@dataclass
class Position:
    """Where a run stands: ``batches_done`` is None once ``epoch`` is finished;
    ``schedule_steps`` counts the optimizer's steps over the whole run, resumes included."""

    epoch: int = 0
    batches_done: Optional[int] = None
    schedule_steps: int = 0

    def next_start(self) -> Tuple[int, int]:
        return (self.epoch + 1, 0) if self.batches_done is None else (self.epoch, self.batches_done)


class OutputWriter:
    """Writes weights files, their resume states and log lines into the output folder.

    (Training's :class:`~spacy_transfer.core.training.Checkpoint` is the other job: one
    folder that a training run resumes from.)
    """

    def __init__(
        self,
        setup: PretrainSetup,
        output_dir: Path,
        tracker: ProgressTracker,
        config_text: str,
        strategy: LocalStrategy,
        *,
        reporter: Reporter,  # the run's: it writes log.jsonl on rank 0 alone
        keep_states: int = 1,
    ) -> None:
        self.config_text = config_text
        self.keep_states = keep_states  # resume states kept beside the newest epoch weights; < 0: all
        self.setup = setup
        self.strategy = strategy
        self.output_dir = output_dir
        self.tracker = tracker
        self.reporter = reporter
        self.saved: List[Path] = []
        self._saved_at: Optional[int] = None  # schedule_steps of the newest epoch save

    def save(self, name: str, position: Position, log_epoch: int, *, collective: bool = True) -> Path:
        """Write ``name``.bin and its state (rank 0); every rank calls it at the same point.

        In a data-parallel run the ranks first compare their weights, and afterwards
        ranks > 0 re-derive their dropout streams, as a resume from this file will.
        ``collective=False`` (an error is on its way out) skips both: other ranks may be gone.
        """
        obj, optimizer = self.setup.objective, self.setup.optimizer
        steps = position.schedule_steps
        weights_path = self.output_dir / f"{name}.bin"
        if collective:
            self.strategy.check_identical([obj.model], f"{weights_path.name} (step {steps})")
            self.strategy.reseed(self.setup.seed, steps)
        if not self.strategy.is_main:
            return weights_path
        if self.config_text and not self.saved:
            # The config as given (not interpolated), as spaCy does; with the first weights,
            # so a run that fails before training leaves nothing behind.
            atomic_write_text(self.output_dir / "config.cfg", self.config_text)
        # model-last right after an epoch's save holds the same weights: one state serves both.
        same_as = self.saved[-1].name if name == LAST and self.saved and self._saved_at == steps else None
        keys = stable_keys(obj.model)
        rng_arrays, rng_meta = rng_state()
        arrays = {**model_arrays(obj.model), **optimizer_arrays(optimizer, keys), **rng_arrays}
        meta = {
            "epoch": position.epoch,
            "batches_done": position.batches_done,
            "schedule_steps": steps,
            "optimizer": optimizer_counters(optimizer, keys),
            "rng": rng_meta,
            "masker": obj.masker.get_state() if obj.masker is not None else None,
            "tracker": self.tracker.to_json(),
            "objective": obj.kind,
            "same_as": same_as,
        }
        # State first: a weights file on disk always has its state beside it.
        st.write_state(st.state_path(weights_path), arrays, meta)
        atomic_write_bytes(weights_path, obj.weights_bytes(optimizer))
        log = {
            "nr_word": self.tracker.nr_word,
            "loss": self.tracker.loss,
            "epoch_loss": self.tracker.epoch_loss,
            "epoch": log_epoch,
            "file": weights_path.name,
            "words_per_second": round(self.tracker.words_per_second, 1),
        }
        self.reporter.append_log(self.output_dir / "log.jsonl", log)
        if same_as is not None:
            st.state_path(self.output_dir / same_as).unlink(missing_ok=True)  # found through model-last's
        elif name != LAST:
            self._saved_at = steps
            self._prune_states(weights_path)
        self.saved.append(weights_path)
        return weights_path

    def _prune_states(self, newest: Path) -> None:
        """Keep the resume states of the newest ``keep_states`` epoch files (and model-last's):
        each is several times the size of its weights, and resuming needs only the newest."""
        if self.keep_states < 0:
            return
        ours = [st.state_path(p) for p in self.saved if p.name != f"{LAST}.bin"] + [st.state_path(newest)]
        earlier = sorted(
            (
                p
                for p in self.output_dir.glob(f"model*{st.STATE_SUFFIX}")
                if p not in ours and not p.name.startswith(LAST)
            ),
            key=_state_order,
        )
        for path in (earlier + ours)[: -self.keep_states or None]:
            path.unlink(missing_ok=True)


def _state_order(path: Path) -> Tuple[int, int]:
    """Training order of model{N}.temp / model{N} states: epoch, then the mid-epoch one first."""
    match = STATE_NAME.match(path.name)
    return (int(match.group(1)), 0 if match.group(2) else 1) if match else (-1, 0)
