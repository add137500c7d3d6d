"""The random streams a run draws from, saved and restored without pickle."""

from __future__ import annotations

import random
from typing import Any, Dict, List, Optional, Tuple

import numpy

from ..distributed.strategy import derived_seed


def rng_state() -> Tuple[Dict[str, numpy.ndarray], Dict[str, Any]]:
    """Arrays (NumPy's key, torch's generators) and JSON (Python's state, NumPy's position)."""
    import torch

    name, keys, pos, has_gauss, cached = numpy.random.get_state()
    arrays = {
        "rng/numpy_keys": numpy.asarray(keys, dtype=numpy.uint32),
        "rng/torch_cpu": torch.get_rng_state().numpy().copy(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            arrays[f"rng/torch_cuda_{i}"] = s.cpu().numpy().copy()
    meta = {"python": python_rng_json(), "numpy": [name, int(pos), int(has_gauss), float(cached)]}
    return arrays, meta


def python_rng_json() -> List[Any]:
    """Python's ``random`` state as JSON (the corpus shuffle's position is saved this way)."""
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def set_python_rng_json(state: List[Any]) -> None:
    version, internal, gauss = state
    random.setstate((version, tuple(internal), gauss))


def restore_rng(arrays: Dict[str, numpy.ndarray], meta: Dict[str, Any]) -> None:
    """Undo :func:`rng_state`. Also reads training checkpoints of format 1 (NumPy's key in
    the JSON, torch's arrays without the ``rng/`` prefix)."""
    import torch

    arrays = {k if k.startswith("rng/") else f"rng/{k}": v for k, v in arrays.items()}
    set_python_rng_json(meta["python"])
    numpy_meta = list(meta["numpy"])
    if len(numpy_meta) == 5:  # format 1: [name, keys, pos, has_gauss, cached]
        arrays["rng/numpy_keys"] = numpy.asarray(numpy_meta.pop(1), dtype=numpy.uint32)
    name, pos, has_gauss, cached = numpy_meta
    numpy.random.set_state(
        (name, numpy.ascontiguousarray(arrays["rng/numpy_keys"], dtype=numpy.uint32), pos, has_gauss, cached)
    )
    if "rng/torch_cpu" in arrays:
        torch.set_rng_state(torch.from_numpy(numpy.ascontiguousarray(arrays["rng/torch_cpu"])))
    cuda = sorted(
        (k for k in arrays if k.startswith("rng/torch_cuda_")), key=lambda k: int(k.rsplit("_", 1)[1])
    )
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.from_numpy(numpy.ascontiguousarray(arrays[k])) for k in cuda])


def reseed_cupy(seed: Optional[int], step: int) -> None:
    """cupy's generator has no state to save; reseed it at each checkpoint instead.

    Both an uninterrupted run and a resumed one reseed at the same steps, so dropout
    masks drawn on the GPU after a checkpoint are the same in both.
    """
    try:
        import cupy  # type: ignore[import-not-found]
    except ImportError:
        return
    try:
        cupy.random.seed(derived_seed(seed, step))
    except Exception:  # no usable device: nothing draws from cupy then
        pass
