"""Full training state on disk (``OUTPUT/checkpoint/``) and back, for ``--resume``.

Layout (written with :func:`~spacy_transfer.core.io.atomic_dir`, so a reader only ever
sees a complete checkpoint)::

    checkpoint/
      model/                 the pipeline with its current (not averaged) weights, LoRA adapters unmerged
      optimizer.safetensors  Adam moments, parameter averages and fp16 grad scalers, by stable key
      rng.safetensors        NumPy's key and torch's generator states
      state.json             step, epoch, results, losses, history, optimizer counters,
                             Python's random state and NumPy's position, corpus position
      config.cfg             the filled config the run trains

The names, the optimizer's state and the random streams are :mod:`spacy_transfer.core.state`'s,
the same scheme as pretraining's resume states.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import numpy
from thinc.api import Config, Optimizer

from ...errors import UserError
from ..io import atomic_dir
from ..state import (
    optimizer_arrays,
    optimizer_counters,
    pipeline_models,
    restore_optimizer,
    restore_rng,
    rng_state,
    stable_keys,
    to_numpy,
)
from ..transformer.adapters import unmerged_saves
from ..upstream import scaler_state, set_scaler_state, shim_grad_scaler
from .run_state import TrainState

# 2: optimizer arrays named "<table>/<key>" and all random streams in rng.safetensors
# (core.state's scheme, shared with pretraining); 1 ("<table>::<key>", NumPy's state in
# state.json) still loads.
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
# Settings that may change between a run and its resume: they only move the finish line.
RESUMABLE_CHANGES = ("training.max_steps", "training.patience", "training.logger")
OPTIMIZER_HINT = (
    "The pipeline's architecture or optimizer changed since the checkpoint; train without --resume."
)


def _grad_scalers(nlp: Any) -> Iterator[Tuple[str, Any]]:
    """``(stable shim name, scaler)`` of every enabled fp16 gradient scaler, once each."""
    seen = set()
    for comp_name, model in pipeline_models(nlp):
        for i, node in enumerate(model.walk()):
            for j, shim in enumerate(node.shims):
                scaler = shim_grad_scaler(shim)
                if scaler is not None and id(scaler) not in seen:
                    seen.add(id(scaler))
                    yield f"{comp_name}/{i}/shim{j}", scaler


def save_checkpoint(
    path: Path,
    nlp: Any,
    optimizer: Optimizer,
    state: TrainState,
    position: Dict[str, Any],
) -> None:
    """Write the whole training state atomically (the previous checkpoint stays until then)."""
    from safetensors.numpy import save_file

    keys = stable_keys(nlp)
    arrays = optimizer_arrays(optimizer, keys)
    for name, scaler in _grad_scalers(nlp):
        scale, growth = scaler_state(scaler)
        arrays[f"scaler::{name}::scale"] = to_numpy(scale)
        arrays[f"scaler::{name}::growth"] = to_numpy(growth)
    rng_arrays, rng_meta = rng_state()
    payload = {
        "format": FORMAT_VERSION,
        "state": state.to_json(),
        "position": position,
        "optimizer": optimizer_counters(optimizer, keys),
        "rng": rng_meta,
    }
    # Unmerged: a resumed run must go on training the same adapters (core.transformer.adapters).
    with atomic_dir(path) as tmp, unmerged_saves():
        nlp.to_disk(tmp / "model")
        save_file(arrays or {"empty": numpy.zeros(0, dtype="f")}, str(tmp / "optimizer.safetensors"))
        save_file(rng_arrays, str(tmp / "rng.safetensors"))
        (tmp / "config.cfg").write_text(nlp.config.to_str(), encoding="utf8")
        # The stdlib's json: it round-trips floats exactly (srsly's ujson rounds them).
        (tmp / "state.json").write_text(json.dumps(payload), encoding="utf8")


class Checkpoint:
    """A checkpoint read from disk; apply it to a rebuilt pipeline with :meth:`restore`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        state_file = self.path / "state.json"
        if not state_file.exists():
            raise UserError(
                f"No checkpoint to resume from in {self.path}",
                hint="Start the run without --resume; a checkpoint is written at every evaluation.",
            )
        try:
            self.payload = json.loads(state_file.read_text(encoding="utf8"))
        except ValueError as e:
            raise UserError(
                f"The checkpoint in {self.path} is damaged: {e}", hint="Train without --resume."
            ) from None
        if self.payload.get("format") not in READABLE_FORMATS:
            raise UserError(
                f"The checkpoint in {self.path} has an unknown format",
                hint="It was written by another version; train without --resume.",
            )
        self.state = TrainState.from_json(self.payload["state"])
        self.position: Dict[str, Any] = self.payload["position"]
        self.config_text = (self.path / "config.cfg").read_text(encoding="utf8")

    def check_config(self, config: Config) -> None:
        """Refuse to resume when the config changed in a way that changes the training."""
        before = _flatten(Config().from_str(self.config_text, interpolate=False).interpolate())
        now = _flatten(Config().from_str(config.to_str(), interpolate=False).interpolate())
        rows = []
        for key in sorted(set(before) | set(now)):
            if any(key == k or key.startswith(k + ".") for k in RESUMABLE_CHANGES):
                continue
            if before.get(key, "<unset>") != now.get(key, "<unset>"):
                rows.append(
                    (key, f"checkpoint: {before.get(key, '<unset>')!r}, now: {now.get(key, '<unset>')!r}")
                )
        if rows:
            raise UserError(
                "The config no longer matches the checkpoint, so the run cannot be resumed",
                rows=rows[:20] + ([("...", f"{len(rows) - 20} more")] if len(rows) > 20 else []),
                header=("setting", "difference"),
                hint="Resume with the same config and overrides (only "
                + ", ".join(RESUMABLE_CHANGES)
                + " may change), or train without --resume.",
            )

    def restore_model(self, nlp: Any) -> None:
        # Our config stays: it may carry the changes RESUMABLE_CHANGES allows.
        nlp.from_disk(self.path / "model", exclude=["config"])

    def restore_optimizer(self, nlp: Any, optimizer: Optimizer) -> None:
        from safetensors.numpy import load_file

        arrays = load_file(str(self.path / "optimizer.safetensors"))
        arrays.pop("empty", None)
        scaler_arrays = {k: v for k, v in arrays.items() if k.startswith("scaler::")}
        arrays = {k: v for k, v in arrays.items() if not k.startswith("scaler::")}
        restore_optimizer(
            optimizer,
            stable_keys(nlp),
            arrays,
            self.payload["optimizer"],
            self.state.schedule_steps,
            hint=OPTIMIZER_HINT,
        )
        if scaler_arrays:
            import torch

            for name, scaler in _grad_scalers(nlp):
                if f"scaler::{name}::scale" in scaler_arrays:
                    set_scaler_state(
                        scaler,
                        torch.from_numpy(scaler_arrays[f"scaler::{name}::scale"]),
                        torch.from_numpy(scaler_arrays[f"scaler::{name}::growth"]),
                    )

    def restore_rng(self) -> None:
        from safetensors.numpy import load_file

        restore_rng(load_file(str(self.path / "rng.safetensors")), self.payload["rng"])


def _flatten(config: Any, prefix: str = "") -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


__all__ = ["Checkpoint", "save_checkpoint", "stable_keys", "RESUMABLE_CHANGES"]
