"""Full training state on disk (``OUTPUT/checkpoint/``) and back, for ``--resume``.

Layout (written with :func:`~spacy_transfer.core.io.atomic_dir`, so a reader only ever
sees a complete checkpoint)::

    checkpoint/
      model/                 the pipeline with its current (not averaged) weights
      optimizer.safetensors  Adam moments and parameter averages, by stable key
      rng.safetensors        torch generator states
      state.json             step, epoch, results, losses, history, optimizer counters,
                             Python/NumPy random states, corpus position
      config.cfg             the filled config the run trains

thinc's optimizer keys its state by ``(model.id, param name)``, and model ids are
counters that differ between processes. We store each entry under a stable key
(component name / index of the node in ``model.walk()`` / param name, plus the shim index
for torch parameters) and map back to the new ids when loading.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import json

import numpy
from thinc.api import Config, Model, Optimizer, get_current_ops

from ...errors import UserError
from ..io import atomic_dir
from .state import (
    TrainState,
    numpy_rng_state,
    python_rng_state,
    set_numpy_rng_state,
    set_python_rng_state,
    set_torch_rng_states,
    torch_rng_states,
)

FORMAT_VERSION = 1
KeyT = Tuple[int, str]
# Settings that may change between a run and its resume: they only move the finish line.
RESUMABLE_CHANGES = ("training.max_steps", "training.patience", "training.logger")


def _shim_param_names(shim: Any) -> Iterator[str]:
    module = getattr(shim, "_model", None)
    named = getattr(module, "named_parameters", None)
    if callable(named):
        for name, _ in named():
            yield name


def _components(nlp: Any) -> Iterator[Tuple[str, Any]]:
    # nlp.components includes disabled ones: their models still own optimizer state.
    yield from nlp.components


def stable_keys(nlp: Any) -> Dict[KeyT, str]:
    """Map each ``(id, param)`` optimizer key of the pipeline to a process-independent name."""
    mapping: Dict[KeyT, str] = {}
    for comp_name, proc in _components(nlp):
        model = getattr(proc, "model", None)
        if not isinstance(model, Model):
            continue
        for i, node in enumerate(model.walk()):
            for name in node.param_names:
                mapping.setdefault((node.id, name), f"{comp_name}/{i}/{name}")
            for j, shim in enumerate(node.shims):
                for pname in _shim_param_names(shim):
                    mapping.setdefault((shim.id, pname), f"{comp_name}/{i}/shim{j}/{pname}")
    return mapping


def _grad_scalers(nlp: Any) -> Iterator[Tuple[str, Any]]:
    seen = set()
    for comp_name, proc in _components(nlp):
        model = getattr(proc, "model", None)
        if not isinstance(model, Model):
            continue
        for i, node in enumerate(model.walk()):
            for j, shim in enumerate(node.shims):
                scaler = getattr(shim, "_grad_scaler", None)
                if scaler is not None and getattr(scaler, "_enabled", False) and id(scaler) not in seen:
                    seen.add(id(scaler))
                    yield f"{comp_name}/{i}/shim{j}", scaler


def _to_numpy(array: Any) -> numpy.ndarray:
    if hasattr(array, "get"):  # cupy
        array = array.get()
    return numpy.ascontiguousarray(array)


def optimizer_state(optimizer: Optimizer, keys: Dict[KeyT, str]) -> Tuple[Dict[str, numpy.ndarray], Dict[str, Any]]:
    """The optimizer's arrays (by stable key) and its counters as JSON."""
    arrays: Dict[str, numpy.ndarray] = {}
    for table in ("mom1", "mom2", "averages"):
        for key, value in (getattr(optimizer, table) or {}).items():
            if key in keys:
                arrays[f"{table}::{keys[key]}"] = _to_numpy(value)
    counters = {
        "nr_update": {keys[k]: int(v) for k, v in optimizer.nr_update.items() if k in keys},
        "last_seen": {keys[k]: int(v) for k, v in optimizer.last_seen.items() if k in keys},
        "radam_buffer": [[None if x is None else float(x) for x in row] for row in optimizer._radam_buffer],
    }
    return arrays, counters


def restore_optimizer(optimizer: Optimizer, keys: Dict[KeyT, str], arrays: Dict[str, numpy.ndarray], counters: Dict[str, Any], schedule_steps: int) -> None:
    """Load saved state into a freshly built optimizer for the (rebuilt) pipeline."""
    by_name = {name: key for key, name in keys.items()}
    ops = get_current_ops()
    missing = []
    for full, value in arrays.items():
        table, name = full.split("::", 1)
        key = by_name.get(name)
        if key is None:
            missing.append(name)
            continue
        target = getattr(optimizer, table)
        if target is None:  # averages off in this config: the config check catches that
            continue
        target[key] = ops.asarray(value.copy())
    for table in ("nr_update", "last_seen"):
        target = getattr(optimizer, table)
        for name, n in counters.get(table, {}).items():
            if name in by_name:
                target[by_name[name]] = int(n)
    optimizer._radam_buffer = [list(row) for row in counters.get("radam_buffer", optimizer._radam_buffer)]
    if missing:
        raise UserError(
            "The checkpoint's optimizer state does not fit this pipeline",
            rows=[("checkpoint", f"{len(missing)} parameters not found, e.g. {missing[0]}")],
            hint="The pipeline's architecture changed since the checkpoint; train without --resume.",
        )
    # thinc's schedules are generators: replaying them lands on the same values.
    for _ in range(schedule_steps):
        optimizer.step_schedules()


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
    arrays, counters = optimizer_state(optimizer, keys)
    scalers = {}
    for name, scaler in _grad_scalers(nlp):
        scalers[f"scaler::{name}::scale"] = _to_numpy(scaler._scale.detach().cpu().numpy())
        scalers[f"scaler::{name}::growth"] = _to_numpy(scaler._growth_tracker.detach().cpu().numpy())
    payload = {
        "format": FORMAT_VERSION,
        "state": state.to_json(),
        "position": position,
        "optimizer": counters,
        "rng": {"python": python_rng_state(), "numpy": numpy_rng_state()},
    }
    with atomic_dir(path) as tmp:
        nlp.to_disk(tmp / "model")
        save_file({**arrays, **scalers} or {"empty": numpy.zeros(0, dtype="f")}, str(tmp / "optimizer.safetensors"))
        save_file(torch_rng_states(), str(tmp / "rng.safetensors"))
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
            raise UserError(f"The checkpoint in {self.path} is damaged: {e}", hint="Train without --resume.") from None
        if self.payload.get("format") != FORMAT_VERSION:
            raise UserError(f"The checkpoint in {self.path} has an unknown format", hint="It was written by another version; train without --resume.")
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
                rows.append((key, f"checkpoint: {before.get(key, '<unset>')!r}, now: {now.get(key, '<unset>')!r}"))
        if rows:
            raise UserError(
                "The config no longer matches the checkpoint, so the run cannot be resumed",
                rows=rows[:20] + ([("...", f"{len(rows) - 20} more")] if len(rows) > 20 else []),
                header=("setting", "difference"),
                hint="Resume with the same config and overrides (only " + ", ".join(RESUMABLE_CHANGES) + " may change), or train without --resume.",
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
        restore_optimizer(optimizer, stable_keys(nlp), arrays, self.payload["optimizer"], self.state.schedule_steps)
        if scaler_arrays:
            import torch

            for name, scaler in _grad_scalers(nlp):
                if f"scaler::{name}::scale" in scaler_arrays:
                    scaler._scale.copy_(torch.from_numpy(scaler_arrays[f"scaler::{name}::scale"]))
                    scaler._growth_tracker.copy_(torch.from_numpy(scaler_arrays[f"scaler::{name}::growth"]))

    def restore_rng(self) -> None:
        from safetensors.numpy import load_file

        set_python_rng_state(self.payload["rng"]["python"])
        set_numpy_rng_state(self.payload["rng"]["numpy"])
        set_torch_rng_states(load_file(str(self.path / "rng.safetensors")))


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
