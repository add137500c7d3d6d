"""Everything a pretraining run needs to continue exactly: ``model{N}.state.safetensors``.

Beside each weights file (``model{N}.bin``, ``model{N}.temp.bin``, ``model-last.bin``) the
loop writes one safetensors file holding

- the current (not averaged) parameters of the whole pretraining network: the tok2vec
  layer *and* the objective's output layer, by stable name ``param/<node index>/<name>``;
- the optimizer's Adam moments and parameter averages (``mom1/...``, ``mom2/...``,
  ``averages/...``) under the same stable names;
- the random states (Python, NumPy, torch, the masker's generator) and the position
  (epoch, batches done, schedule steps, progress counters) as JSON in the metadata.

thinc keys optimizer state by ``(node.id, param)`` and node ids differ between
processes, so names use the node's index in ``model.walk()`` instead. No pickle anywhere.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

import numpy
from thinc.api import Model, Optimizer, get_current_ops

from ...errors import UserError
from ..io import atomic_write_bytes

FORMAT = "spacy-transfer.pretrain-state.v1"
KeyT = Tuple[int, str]
STATE_SUFFIX = ".state.safetensors"


def state_path(weights_path: Path) -> Path:
    """``model3.bin`` -> ``model3.state.safetensors`` (same folder)."""
    name = weights_path.name[: -len(".bin")] if weights_path.name.endswith(".bin") else weights_path.name
    return weights_path.with_name(name + STATE_SUFFIX)


def _to_numpy(array: Any) -> numpy.ndarray:
    if hasattr(array, "get"):  # cupy
        array = array.get()
    if hasattr(array, "detach"):  # torch
        array = array.detach().cpu().numpy()
    return numpy.ascontiguousarray(array)


def _shim_tensors(shim: Any) -> Iterator[Tuple[str, Any]]:
    module = getattr(shim, "_model", None)
    if module is not None and hasattr(module, "named_parameters"):
        yield from module.named_parameters()


def stable_keys(model: Model) -> Dict[KeyT, str]:
    """``(id, param)`` -> process-independent name, for thinc params and torch params."""
    keys: Dict[KeyT, str] = {}
    for i, node in enumerate(model.walk()):
        for name in node.param_names:
            keys.setdefault((node.id, name), f"{i}/{name}")
        for j, shim in enumerate(node.shims):
            for name, _ in _shim_tensors(shim):
                keys.setdefault((shim.id, name), f"{i}/shim{j}/{name}")
    return keys


def model_arrays(model: Model) -> Dict[str, numpy.ndarray]:
    arrays: Dict[str, numpy.ndarray] = {}
    for i, node in enumerate(model.walk()):
        for name in node.param_names:
            if node.has_param(name):
                arrays[f"param/{i}/{name}"] = _to_numpy(node.get_param(name))
        for j, shim in enumerate(node.shims):
            for name, tensor in _shim_tensors(shim):
                arrays[f"param/{i}/shim{j}/{name}"] = _to_numpy(tensor)
    return arrays


def load_model_arrays(model: Model, arrays: Dict[str, numpy.ndarray]) -> None:
    import torch

    ops = get_current_ops()
    expected = model_arrays(model)
    wanted = {k for k in arrays if k.startswith("param/")}
    if wanted != set(expected) or any(arrays[k].shape != expected[k].shape for k in wanted):
        raise UserError(
            "The resume state does not fit the pretraining network of this config",
            rows=[("state", f"{len(wanted)} arrays; the network has {len(expected)}"),
                  ("differences", ", ".join(sorted(wanted ^ set(expected))[:5]) or "shapes differ")],
            hint="Resume with the config the run started with (the output folder has a copy, config.cfg).",
        )
    for i, node in enumerate(model.walk()):
        for name in node.param_names:
            key = f"param/{i}/{name}"
            if key in arrays:
                node.set_param(name, ops.asarray(arrays[key].copy()))
        for j, shim in enumerate(node.shims):
            with torch.no_grad():
                for name, tensor in _shim_tensors(shim):
                    tensor.copy_(torch.from_numpy(arrays[f"param/{i}/shim{j}/{name}"].copy()))


def optimizer_arrays(optimizer: Optimizer, keys: Dict[KeyT, str]) -> Dict[str, numpy.ndarray]:
    arrays = {}
    for table in ("mom1", "mom2", "averages"):
        for key, value in (getattr(optimizer, table) or {}).items():
            if key in keys:
                arrays[f"{table}/{keys[key]}"] = _to_numpy(value)
    return arrays


def optimizer_meta(optimizer: Optimizer, keys: Dict[KeyT, str]) -> Dict[str, Any]:
    return {
        "nr_update": {keys[k]: int(v) for k, v in optimizer.nr_update.items() if k in keys},
        "last_seen": {keys[k]: int(v) for k, v in optimizer.last_seen.items() if k in keys},
        "radam_buffer": [[None if x is None else float(x) for x in row] for row in optimizer._radam_buffer],
    }


def restore_optimizer(optimizer: Optimizer, keys: Dict[KeyT, str], arrays: Dict[str, numpy.ndarray], meta: Dict[str, Any], schedule_steps: int) -> None:
    by_name = {name: key for key, name in keys.items()}
    ops = get_current_ops()
    for full, value in arrays.items():
        table, _, name = full.partition("/")
        if table not in ("mom1", "mom2", "averages"):
            continue
        target = getattr(optimizer, table)
        if name not in by_name or target is None:
            raise UserError("The resume state's optimizer does not fit this config",
                            rows=[("state", f"{table} for '{name}'")],
                            hint="Resume with the same [pretraining.optimizer] and network as the interrupted run.")
        target[by_name[name]] = ops.asarray(value.copy())
    for table in ("nr_update", "last_seen"):
        counter = getattr(optimizer, table)
        for name, n in meta.get(table, {}).items():
            counter[by_name[name]] = int(n)
    optimizer._radam_buffer = [list(row) for row in meta.get("radam_buffer", optimizer._radam_buffer)]
    # thinc's schedules are generators: replaying them lands on the same values.
    for _ in range(schedule_steps):
        optimizer.step_schedules()


def rng_arrays() -> Dict[str, numpy.ndarray]:
    import torch

    _, keys, *_ = numpy.random.get_state()
    arrays = {"rng/numpy_keys": numpy.asarray(keys, dtype=numpy.uint32), "rng/torch_cpu": torch.get_rng_state().numpy().copy()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            arrays[f"rng/torch_cuda_{i}"] = s.cpu().numpy().copy()
    return arrays


def rng_meta() -> Dict[str, Any]:
    version, internal, gauss = random.getstate()
    name, _, pos, has_gauss, cached = numpy.random.get_state()
    return {"python": [version, list(internal), gauss], "numpy": [name, int(pos), int(has_gauss), float(cached)]}


def restore_rng(arrays: Dict[str, numpy.ndarray], meta: Dict[str, Any]) -> None:
    import torch

    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))
    name, pos, has_gauss, cached = meta["numpy"]
    numpy.random.set_state((name, arrays["rng/numpy_keys"], pos, has_gauss, cached))
    torch.set_rng_state(torch.from_numpy(arrays["rng/torch_cpu"].copy()))
    cuda = sorted((k for k in arrays if k.startswith("rng/torch_cuda_")), key=lambda k: int(k.rsplit("_", 1)[1]))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.from_numpy(arrays[k].copy()) for k in cuda])


def write_state(path: Path, arrays: Dict[str, numpy.ndarray], meta: Dict[str, Any]) -> None:
    from safetensors.numpy import save

    atomic_write_bytes(path, canonical_safetensors(save(arrays, metadata={"format": FORMAT, "state": json.dumps(meta)})))


def canonical_safetensors(data: bytes) -> bytes:
    """``data`` with its metadata keys sorted, so equal contents give equal bytes.

    safetensors writes the metadata from a hash map whose order changes from call to
    call; a run and its resumed twin would otherwise write different bytes for the same
    weights. The header keeps its length (same keys, same values), so offsets stay valid.
    """
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    if "__metadata__" not in header:
        return data
    header = {"__metadata__": dict(sorted(header["__metadata__"].items())), **{k: v for k, v in header.items() if k != "__metadata__"}}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf8")
    if len(text) > n:  # pragma: no cover - a header we cannot rewrite in place
        return data
    return data[:8] + text + b" " * (n - len(text)) + data[8 + n :]


def read_state(path: Path) -> Tuple[Dict[str, numpy.ndarray], Dict[str, Any]]:
    from safetensors import safe_open
    from safetensors.numpy import load

    try:
        data = path.read_bytes()
        arrays = load(data)
        with safe_open(str(path), framework="numpy") as f:
            header = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types for bad files
        raise UserError(f"Could not read the resume state {path}", rows=[(str(path), " ".join(str(e).split())[:200])],
                        hint="The file is damaged; resume from an earlier model{N}.bin or start again.") from None
    if header.get("format") != FORMAT:
        raise UserError(f"{path} is not a pretraining resume state", rows=[(str(path), f"format {header.get('format')!r}")])
    return arrays, json.loads(header["state"])


def find_state(weights_path: Path) -> Optional[Path]:
    """The resume state of a weights file: its own, or model-last's when that was saved
    right after it (same weights, so the run keeps one state for both)."""
    p = state_path(weights_path)
    if p.exists():
        return p
    last = weights_path.with_name("model-last" + STATE_SUFFIX)
    if weights_path.name != "model-last.bin" and last.exists() and _meta(last).get("same_as") == weights_path.name:
        return last
    return None


def _meta(path: Path) -> Dict[str, Any]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            return json.loads((f.metadata() or {}).get("state", "{}"))
    except Exception:
        return {}  # a damaged state is reported when it is read
