"""CPU or GPU, and mixed precision for the torch-backed layers.

``--gpu-id N`` selects a GPU with thinc's ``require_gpu`` and routes cupy's memory
through PyTorch's allocator (one pool for thinc and torch layers). Mixed precision is
a property of the torch-backed models in the config (thinc's PyTorch shims run the
forward pass under autocast and scale gradients themselves); this module picks the
dtype (bf16 where the GPU supports it, else fp16, which needs a grad scaler) and tells
the user when the setting cannot take effect.
"""

from __future__ import annotations

from typing import Any, Iterator, List, Optional

from thinc.api import Model, require_cpu, require_gpu, set_gpu_allocator

from ...errors import UserError


def setup_device(gpu_id: int, allocator: Optional[str] = None) -> str:
    """Select the device; returns a description. Fails clearly when no GPU is usable."""
    if gpu_id is None or gpu_id < 0:
        require_cpu()
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
        raise UserError(f"Could not use the '{allocator or 'pytorch'}' GPU allocator: {e}",
                        hint="Install a CUDA build of PyTorch, or set [training] gpu_allocator = null.") from None
    return f"GPU {gpu_id}"


def autocast_dtype() -> Any:
    """bf16 where the GPU computes it natively, fp16 otherwise."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def needs_grad_scaler(dtype: Any) -> bool:
    """fp16 gradients underflow without loss scaling; bf16 has fp32's range."""
    import torch

    return dtype == torch.float16


def _torch_shims(models: List[Model]) -> Iterator[Any]:
    for model in models:
        for node in model.walk():
            yield from node.shims


def mixed_precision_shims(nlp: Any) -> List[Any]:
    """The torch shims of the pipeline that were configured for mixed precision."""
    models = [proc.model for _, proc in nlp.components if isinstance(getattr(proc, "model", None), Model)]
    # thinc's PyTorchShim keeps the flag as an attribute, our transformer shim in its cfg.
    return [s for s in _torch_shims(models) if getattr(s, "_mixed_precision", False) or (getattr(s, "cfg", None) or {}).get("mixed_precision")]


def mixed_precision_note(nlp: Any, on_gpu: bool) -> Optional[str]:
    """A line for the user about mixed precision, or None when the config does not ask for it."""
    shims = mixed_precision_shims(nlp)
    if not shims:
        return None
    if not on_gpu:
        return "Mixed precision is set in the config but only applies on a GPU; training in fp32 on the CPU."
    import torch

    dtype = autocast_dtype()
    scaler = "with a gradient scaler" if needs_grad_scaler(dtype) else "no gradient scaling needed"
    return f"Mixed precision for {len(shims)} torch-backed layer(s): autocast {str(dtype).replace('torch.', '')}, {scaler}"
