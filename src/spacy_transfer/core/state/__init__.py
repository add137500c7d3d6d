"""Resumable state, one implementation for ``train`` and ``pretrain``.

- :mod:`.keys`: process-independent names for every parameter (thinc and torch), and
  the network's arrays by those names;
- :mod:`.optimizer`: thinc optimizer moments, averages and counters under those names;
- :mod:`.rng`: the Python, NumPy and torch random streams (and cupy's reseeding);
- :mod:`.fused_adam`: the optimizer step of torch modules (thinc's Adam in fused torch
  kernels, on the state :mod:`.optimizer` names); imported on its own (it imports torch).

thinc keys optimizer state by ``(node.id, param)`` and node ids are counters that differ
between processes, so every name uses the node's index in ``model.walk()`` instead:
``[prefix/]<index>/<param>`` or ``[prefix/]<index>/shim<j>/<torch name>`` (the prefix is
the component name in a pipeline). Where the files go is each command's own business
(``OUTPUT/checkpoint/`` for train, ``model{N}.state.safetensors`` for pretrain).
"""

from .keys import KeyT, load_model_arrays, model_arrays, pipeline_models, stable_keys, to_numpy
from .optimizer import optimizer_arrays, optimizer_counters, restore_optimizer
from .rng import python_rng_json, reseed_cupy, restore_rng, rng_state, set_python_rng_json

__all__ = [
    "KeyT",
    "load_model_arrays",
    "model_arrays",
    "optimizer_arrays",
    "optimizer_counters",
    "pipeline_models",
    "python_rng_json",
    "reseed_cupy",
    "restore_optimizer",
    "restore_rng",
    "rng_state",
    "set_python_rng_json",
    "stable_keys",
    "to_numpy",
]
