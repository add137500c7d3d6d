"""Continue a pretraining run from a weights file: exactly, from the state beside it, or
(a file spaCy wrote) from the weights alone, as spaCy does."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from ...errors import UserError
from ..distributed.strategy import LocalStrategy
from ..recipe import Reporter
from ..state import load_model_arrays, restore_optimizer, restore_rng, stable_keys
from . import state_file as st
from .outputs import MODEL_NAME, Position
from .progress import ProgressTracker
from .setup import PretrainSetup

RESUME_HINT = "Resume with the config the run started with (the output folder has a copy, config.cfg)."


def resume(
    setup: PretrainSetup,
    resume_path: Path,
    epoch_resume: Optional[int],
    tracker: ProgressTracker,
    position: Position,
    strategy: LocalStrategy,
    printer: Reporter,
) -> Tuple[int, int]:
    """Restore from ``resume_path`` (``position`` gets its optimizer steps); returns (epoch to
    start at, batches of it to skip)."""
    _check_resume_path(resume_path)
    state_file = st.find_state(resume_path)
    obj = setup.objective
    if state_file is None:
        # A spaCy-written (or older) file: weights only, as spaCy resumes.
        start = _epoch_from_name(resume_path, epoch_resume)
        obj.load_weights(resume_path.read_bytes(), where=str(resume_path))
        printer.warn(
            f"No resume state beside {resume_path.name} ({st.state_path(resume_path).name}): "
            "loaded the layer's weights only; the output layer and optimizer start fresh"
        )
        return start, 0
    arrays, meta = st.read_state(state_file)
    if meta.get("objective") != obj.kind:
        raise UserError(
            f"{resume_path} was written with another objective ({meta.get('objective')}, this config: {obj.kind})",
            hint="Resume with the config the run started with.",
        )
    _restore(setup, arrays, meta, tracker, strategy)
    position.schedule_steps = meta["schedule_steps"]
    start, skip = Position(meta["epoch"], meta["batches_done"]).next_start()
    if epoch_resume is not None and epoch_resume != start:
        printer.warn(
            f"--epoch-resume {epoch_resume} differs from the state's position (epoch {start}"
            f"{f', after {skip} batches' if skip else ''}): counting from epoch {epoch_resume}"
        )
        return epoch_resume, 0
    printer.info(
        f"Resuming exactly from {resume_path.name}: epoch {start}"
        + (f", after {skip} batches" if skip else "")
    )
    return start, skip


def _check_resume_path(resume_path: Path) -> None:
    if not resume_path.exists():
        near = (
            sorted(p.name for p in resume_path.parent.glob("model*.bin"))
            if resume_path.parent.is_dir()
            else []
        )
        raise UserError(
            f"--resume-path not found: {resume_path}",
            hint=f"Weights files in {resume_path.parent}: {', '.join(near)}."
            if near
            else "Give a weights file that pretrain wrote, e.g. OUTPUT/model3.bin.",
        )
    if resume_path.is_dir():
        raise UserError(
            f"--resume-path must be a weights file written by pretrain, not a folder: {resume_path}",
            hint=f"Give e.g. {resume_path}/model3.bin.",
        )


def _restore(
    setup: PretrainSetup,
    arrays: Dict[str, Any],
    meta: Dict[str, Any],
    tracker: ProgressTracker,
    strategy: LocalStrategy,
) -> None:
    """Weights, optimizer, random streams, masker and counters, as they were when saved."""
    obj = setup.objective
    load_model_arrays(obj.model, arrays, hint=RESUME_HINT)
    restore_optimizer(
        setup.optimizer,
        stable_keys(obj.model),
        arrays,
        meta["optimizer"],
        meta["schedule_steps"],
        hint=RESUME_HINT,
    )
    restore_rng(arrays, meta["rng"])
    if obj.masker is not None and meta.get("masker") is not None:
        obj.masker.set_state(meta["masker"])
    tracker.load_json(meta["tracker"])
    if meta["batches_done"] is None:
        tracker.epoch_loss = 0.0  # the uninterrupted run resets it after saving an epoch
    # Ranks > 0 restored rank 0's random states: give them the streams they had after the save.
    strategy.reseed(setup.seed, meta["schedule_steps"])


def _epoch_from_name(path: Path, epoch_resume: Optional[int]) -> int:
    if epoch_resume is not None:
        if epoch_resume < 0:
            raise UserError(f"--epoch-resume must be 0 or more, got {epoch_resume}")
        return epoch_resume
    match = MODEL_NAME.search(path.name)
    if not match:
        raise UserError(
            f"Cannot tell which epoch {path.name} ends (spaCy E1020)",
            hint="Pass --epoch-resume N, the epoch to continue counting from.",
        )
    return int(match.group(1)) + 1
