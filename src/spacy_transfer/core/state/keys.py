"""Stable names for parameters, and a network's arrays by those names."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Tuple, Union

import numpy
from thinc.api import Model, get_current_ops

from ...errors import UserError
from ..upstream import shim_parameters

KeyT = Tuple[int, str]


def to_numpy(array: Any) -> numpy.ndarray:
    """A contiguous numpy copy of a numpy, cupy or torch array."""
    if hasattr(array, "detach"):  # torch
        array = array.detach().cpu().numpy()
    if hasattr(array, "get"):  # cupy
        array = array.get()
    return numpy.ascontiguousarray(array)


def pipeline_models(nlp: Any) -> List[Tuple[str, Model]]:
    """``(component name, model)`` of every component with a thinc model; disabled ones
    too (their models still own optimizer state)."""
    return [
        (name, proc.model) for name, proc in nlp.components if isinstance(getattr(proc, "model", None), Model)
    ]


def _base(prefix: str, index: int) -> str:
    return f"{prefix}/{index}" if prefix else str(index)


def stable_keys(target: Union[Model, Any, Iterable[Tuple[str, Model]]]) -> Dict[KeyT, str]:
    """Each ``(id, param)`` optimizer key -> its stable name, for a pipeline (names start
    with the component), a model (no prefix) or ``(prefix, model)`` pairs. A node reached
    twice (a shared layer) keeps its first name."""
    if isinstance(target, Model):
        pairs: Iterable[Tuple[str, Model]] = [("", target)]
    elif hasattr(target, "components"):
        pairs = pipeline_models(target)
    else:
        pairs = target
    keys: Dict[KeyT, str] = {}
    for prefix, model in pairs:
        for i, node in enumerate(model.walk()):
            for name in node.param_names:
                keys.setdefault((node.id, name), f"{_base(prefix, i)}/{name}")
            for j, shim in enumerate(node.shims):
                for name, _ in shim_parameters(shim):
                    keys.setdefault((shim.id, name), f"{_base(prefix, i)}/shim{j}/{name}")
    return keys


def model_arrays(model: Model, prefix: str = "param") -> Dict[str, numpy.ndarray]:
    """Every parameter of ``model`` (thinc and torch) as ``prefix/<stable name>``."""
    arrays: Dict[str, numpy.ndarray] = {}
    for i, node in enumerate(model.walk()):
        for name in node.param_names:
            if node.has_param(name):
                arrays[f"{prefix}/{i}/{name}"] = to_numpy(node.get_param(name))
        for j, shim in enumerate(node.shims):
            for name, tensor in shim_parameters(shim):
                arrays[f"{prefix}/{i}/shim{j}/{name}"] = to_numpy(tensor)
    return arrays


def load_model_arrays(
    model: Model, arrays: Dict[str, numpy.ndarray], prefix: str = "param", *, hint: str = ""
) -> None:
    """Set ``model``'s parameters from :func:`model_arrays` output; the names and shapes
    must match the network exactly."""
    import torch

    expected = model_arrays(model, prefix)
    wanted = {k for k in arrays if k.startswith(prefix + "/")}
    if wanted != set(expected) or any(arrays[k].shape != expected[k].shape for k in wanted):
        raise UserError(
            "The saved state does not fit the network of this config",
            rows=[
                ("state", f"{len(wanted)} arrays; the network has {len(expected)}"),
                ("differences", ", ".join(sorted(wanted ^ set(expected))[:5]) or "shapes differ"),
            ],
            hint=hint or "Resume with the config the run started with.",
        )
    ops = get_current_ops()
    for i, node in enumerate(model.walk()):
        for name in node.param_names:
            key = f"{prefix}/{i}/{name}"
            if key in arrays:
                node.set_param(name, ops.asarray(arrays[key].copy()))
        for j, shim in enumerate(node.shims):
            with torch.no_grad():
                for name, tensor in shim_parameters(shim):
                    tensor.copy_(torch.from_numpy(arrays[f"{prefix}/{i}/shim{j}/{name}"].copy()))
