"""The one precision policy of every torch-backed layer (transformer, masked LM, loops).

``mixed_precision = true`` in a model's config asks for autocast: bf16 on GPUs that
compute it natively, fp16 with a gradient scaler on older GPUs, and bf16 on the CPU
(opt-in there too: faster on CPUs with bf16 units, within a fraction of a point). The
weights and their gradients stay float32 throughout; without the setting everything is
float32.
"""

from __future__ import annotations

import contextlib
from typing import Any, Dict, Optional


def autocast_dtype(device_type: str, mixed_precision: bool) -> Optional[Any]:
    """The autocast dtype for a device (``"cuda"``/``"cpu"``), or None for float32."""
    if not mixed_precision:
        return None
    import torch

    if device_type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16


def needs_grad_scaler(dtype: Optional[Any]) -> bool:
    """fp16 gradients underflow without loss scaling; bf16 has float32's range."""
    import torch

    return dtype == torch.float16


def grad_scaler(device_type: str, mixed_precision: bool, config: Dict[str, Any]) -> Any:
    """thinc's ``PyTorchGradScaler`` for a torch layer: enabled only where the policy
    autocasts to fp16 (and ``config`` does not turn it off)."""
    from thinc.shims.pytorch_grad_scaler import PyTorchGradScaler

    fp16 = needs_grad_scaler(autocast_dtype(device_type, mixed_precision))
    return PyTorchGradScaler(**{**config, "enabled": fp16 and bool(config.get("enabled", True))})


def autocast(device_type: str, mixed_precision: bool) -> Any:
    """A context that runs its block under the policy's autocast (or does nothing)."""
    dtype = autocast_dtype(device_type, mixed_precision)
    if dtype is None:
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device_type=device_type, dtype=dtype)


def describe(device_type: str, mixed_precision: bool) -> str:
    """One line for the user: what the policy does on this device."""
    dtype = autocast_dtype(device_type, mixed_precision)
    if dtype is None:
        return "float32"
    scaling = "with a gradient scaler" if needs_grad_scaler(dtype) else "no gradient scaling needed"
    return f"autocast {str(dtype).replace('torch.', '')} ({device_type}), float32 weights and gradients, {scaling}"
