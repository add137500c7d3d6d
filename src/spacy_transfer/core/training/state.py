"""Where a training run is: counters, results so far, and the random states to resume it.

Everything here serializes to JSON (RNG states of torch go to the checkpoint's
safetensors file, see :mod:`.checkpoint`), so a checkpoint never needs pickle.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy

from ..distributed.strategy import derived_seed


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

    def to_json(self) -> Dict[str, Any]:
        data = asdict(self)
        data["results"] = [[float(sc), int(st)] for sc, st in self.results]
        # Components sum their losses as numpy float32 or Python float; keep the type so
        # the sums continue exactly as in an uninterrupted run.
        data["losses"] = {k: [float(v), "float32" if isinstance(v, numpy.float32) else "float"] for k, v in self.losses.items()}
        return data

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "TrainState":
        data = dict(data)
        data["results"] = [(float(s), int(st)) for s, st in data.get("results", [])]
        data["losses"] = {k: numpy.float32(v) if kind == "float32" else float(v) for k, (v, kind) in data.get("losses", {}).items()}
        return cls(**data)


def should_stop(state: TrainState, *, patience: int, max_steps: int) -> bool:
    """spaCy's stopping rules, checked after each step."""
    best = state.best
    if patience and best is not None and (state.step - best[1]) >= patience:
        return True
    return bool(max_steps) and state.step >= max_steps


# --- random states ---------------------------------------------------------------

def python_rng_state() -> List[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def set_python_rng_state(state: List[Any]) -> None:
    version, internal, gauss = state
    random.setstate((version, tuple(internal), gauss))


def numpy_rng_state() -> List[Any]:
    name, keys, pos, has_gauss, cached = numpy.random.get_state()
    return [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def set_numpy_rng_state(state: List[Any]) -> None:
    name, keys, pos, has_gauss, cached = state
    numpy.random.set_state((name, numpy.asarray(keys, dtype=numpy.uint32), pos, has_gauss, cached))


def torch_rng_states() -> Dict[str, numpy.ndarray]:
    """torch's CPU generator and each CUDA device's, as byte arrays."""
    import torch

    states = {"torch_cpu": torch.get_rng_state().numpy().copy()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            states[f"torch_cuda_{i}"] = s.cpu().numpy().copy()
    return states


def set_torch_rng_states(states: Dict[str, numpy.ndarray]) -> None:
    import torch

    if "torch_cpu" in states:
        torch.set_rng_state(torch.from_numpy(numpy.ascontiguousarray(states["torch_cpu"])))
    cuda = sorted((k for k in states if k.startswith("torch_cuda_")), key=lambda k: int(k.rsplit("_", 1)[1]))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.from_numpy(numpy.ascontiguousarray(states[k])) for k in cuda])


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
