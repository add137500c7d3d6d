"""A thinc optimizer's state (moments, averages, counters) under stable names."""

from __future__ import annotations

from typing import Any, Dict

import numpy
from thinc.api import Optimizer, get_current_ops

from ...errors import UserError
from ..upstream import radam_buffer, set_radam_buffer
from .keys import KeyT, to_numpy

TABLES = ("mom1", "mom2", "averages")
COUNTERS = ("nr_update", "last_seen")


def optimizer_arrays(optimizer: Optimizer, keys: Dict[KeyT, str]) -> Dict[str, numpy.ndarray]:
    """``<table>/<stable name>`` -> array, for the tables of ``TABLES``."""
    return {
        f"{table}/{keys[key]}": to_numpy(value)
        for table in TABLES
        for key, value in (getattr(optimizer, table) or {}).items()
        if key in keys
    }


def optimizer_counters(optimizer: Optimizer, keys: Dict[KeyT, str]) -> Dict[str, Any]:
    """The per-parameter update counters and RAdam's cache, as JSON."""
    counters: Dict[str, Any] = {
        c: {keys[k]: int(v) for k, v in getattr(optimizer, c).items() if k in keys} for c in COUNTERS
    }
    counters["radam_buffer"] = radam_buffer(optimizer)
    return counters


def _split(full: str) -> tuple:
    # Training checkpoints of format 1 joined table and name with "::".
    table, sep, name = full.partition("::") if "::" in full else full.partition("/")
    return table, name


def restore_optimizer(
    optimizer: Optimizer,
    keys: Dict[KeyT, str],
    arrays: Dict[str, numpy.ndarray],
    counters: Dict[str, Any],
    schedule_steps: int,
    *,
    hint: str,
) -> None:
    """Load saved state into a freshly built optimizer of the rebuilt network. Every saved
    entry must find its parameter and table, or the state is refused (``hint`` says how
    to fix that); then the schedules are replayed to their saved position."""
    by_name = {name: key for key, name in keys.items()}
    ops = get_current_ops()
    misfits = []
    for full, value in arrays.items():
        table, name = _split(full)
        if table not in TABLES:
            continue
        target = getattr(optimizer, table)
        if name not in by_name or target is None:
            misfits.append(f"{table} of '{name}'")
            continue
        target[by_name[name]] = ops.asarray(value.copy())
    if misfits:
        raise UserError(
            "The saved optimizer state does not fit this network and optimizer",
            rows=[("state", f"{len(misfits)} entries do not fit, e.g. {misfits[0]}")],
            hint=hint,
        )
    for table in COUNTERS:
        counter = getattr(optimizer, table)
        for name, n in counters.get(table, {}).items():
            if name in by_name:
                counter[by_name[name]] = int(n)
    if "radam_buffer" in counters:
        set_radam_buffer(optimizer, counters["radam_buffer"])
    # thinc's schedules are generators: replaying them lands on the same values.
    for _ in range(schedule_steps):
        optimizer.step_schedules()
