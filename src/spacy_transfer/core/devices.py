"""The one device setup of every command: CPU or GPU, and what mixed precision does there.

``--gpu-id N`` selects a GPU with thinc's ``require_gpu`` and routes cupy's memory
through PyTorch's allocator (one pool for thinc and torch layers) unless the config's
``gpu_allocator`` names another. On the CPU, thinc multiplies with blis (``spacy
train``'s kernels, so training stays bitwise equal to it) or, where a command asks for
speed over that equality (pretraining), with numpy's BLAS: the same float32 math,
several times faster on common x86 CPUs. Mixed precision is a property of the
torch-backed models in the config; :mod:`.precision` is its policy, and this module
tells the user what it does on the chosen device.
"""

from __future__ import annotations

import os
from typing import Any, Iterator, List, Optional

from thinc.api import Model, NumpyOps, require_cpu, require_gpu, set_current_ops, set_gpu_allocator

from ..errors import UserError
from . import precision
from .upstream import shim_mixed_precision


def setup_device(gpu_id: int, allocator: Optional[str] = None, *, numpy_blas: bool = False) -> str:
    """Select the device; returns a description. Fails clearly when no GPU is usable.
    ``numpy_blas``: on the CPU, multiply through numpy's BLAS instead of blis."""
    if gpu_id is None or gpu_id < 0:
        require_cpu()
        if numpy_blas:
            set_current_ops(NumpyOps(use_blis=False))
        return "CPU"
    try:
        require_gpu(gpu_id)
    except Exception as e:
        raise UserError(
            f"GPU {gpu_id} was asked for (--gpu-id {gpu_id}) but is not usable",
            rows=[("reason", " ".join(str(e).split()) or type(e).__name__)],
            hint="Install the CUDA extra (pip install 'spacy-transfer[cuda12x]'), check 'nvidia-smi', "
            "or run on the CPU: leave out --gpu-id (or pass --gpu-id -1).",
        ) from None
    try:
        set_gpu_allocator(allocator or "pytorch")
    except Exception as e:  # e.g. torch without CUDA next to a working cupy
        raise UserError(
            f"Could not use the '{allocator or 'pytorch'}' GPU allocator: {e}",
            hint="Install a CUDA build of PyTorch, or set [training] gpu_allocator = null.",
        ) from None
    return f"GPU {gpu_id}"


def _torch_shims(models: List[Model]) -> Iterator[Any]:
    for model in models:
        for node in model.walk():
            yield from node.shims


def mixed_precision_shims(nlp: Any) -> List[Any]:
    """The torch shims of the pipeline that were configured for mixed precision."""
    models = [proc.model for _, proc in nlp.components if isinstance(getattr(proc, "model", None), Model)]
    return [s for s in _torch_shims(models) if shim_mixed_precision(s)]


def mixed_precision_note(nlp: Any, on_gpu: bool) -> Optional[str]:
    """A line for the user about mixed precision, or None when the config does not ask for it."""
    shims = mixed_precision_shims(nlp)
    if not shims:
        return None
    if on_gpu:
        return f"Mixed precision for {len(shims)} torch-backed layer(s): {precision.describe('cuda', True)}"
    # thinc's own PyTorchShim autocasts on GPUs only; our transformer follows the policy on CPUs too.
    transformers = [s for s in shims if getattr(s, "autocasts_on_cpu", False)]
    if not transformers:
        return "Mixed precision is set in the config but thinc's torch layers use it on a GPU only; float32 on the CPU."
    return f"Mixed precision for {len(transformers)} transformer(s): {precision.describe('cpu', True)}"


# ---------------------------------------------------------------------------- forked workers

_forked = False


def _mark_forked() -> None:
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_mark_forked)


def torch_threads_after_fork() -> None:
    """In a forked child (``nlp.pipe(n_process=N)`` on Linux), run torch on one thread.

    The parent's OpenMP pool does not survive ``fork``; the child's first parallel op
    (e.g. a LayerNorm) then waits forever. N processes are the parallelism anyway."""
    global _forked
    if _forked:
        import torch

        torch.set_num_threads(1)
        _forked = False
