"""The one precision policy of every torch-backed layer (transformer, masked LM, loops).

``mixed_precision = true`` in a model's config asks for autocast: bf16 on GPUs that
compute it natively, fp16 with a gradient scaler on older GPUs, and bf16 on CPUs whose
bf16 units measured clearly faster than float32 (AMX: about 3x, within a fraction of a
point). On a CPU without them bf16 is emulated and several times slower than float32, and
one with AVX512_BF16 but no AMX measured 0.6-0.75x, so there the setting warns once and runs
float32, unless ``SPACY_TRANSFER_FORCE_BF16=1`` forces it
(``init config --gpu`` writes ``mixed_precision = true``, as spaCy's GPU template does,
and a user who tries that config on a laptop must not pay 11x for it). The weights and
their gradients stay float32 throughout; without the setting everything is float32.

CPU prediction runs a copy of the encoder in its own precision (:func:`cpu_predictor`):
``quantize = "int8"`` an int8 dynamically quantized copy (:func:`int8_dynamic`), and
``mixed_precision`` where bf16 pays a bf16 copy (:mod:`.bf16`: weights cast once, not at each
call as autocast does, and row counts kept on a grid so oneDNN builds few kernels).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Any, Dict, Optional, Set

from . import cpu

FORCE_BF16_ENV = "SPACY_TRANSFER_FORCE_BF16"
_warned: Set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, UserWarning, stacklevel=3)


def cpu_bf16_forced() -> bool:
    return os.environ.get(FORCE_BF16_ENV, "").strip().lower() in ("1", "true", "yes")


def cpu_bf16_pays() -> bool:
    """Whether bf16 autocast runs on this CPU: it has bf16 units and they measured clearly
    faster than float32 (``cpu.bf16_pays``), or the user forces it."""
    return cpu_bf16_forced() or cpu.bf16_pays()


def _cpu_bf16_refused() -> None:
    f = cpu.features()
    why = (
        f"its bf16 units measured {cpu.bf16_speedup():.2f}x float32's speed here (bf16 pays from "
        f"{cpu.BF16_MIN_SPEEDUP}x; AMX gives about 3x)"
        if f.native_bf16
        else "it has no native bf16 (AVX512_BF16 or AMX), where bf16 autocast is several times slower than float32"
    )
    _warn_once(
        "bf16",
        f"mixed_precision = true runs float32 on this CPU ({f.model}): {why}. "
        f"Set {FORCE_BF16_ENV}=1 to use bf16 anyway, or mixed_precision = false to silence this.",
    )


def int8_note() -> None:
    """Say once what ``quantize = "int8"`` gains where it gains little: without VNNI, little
    over float32; where bf16 pays (AMX), less than bf16 does."""
    f = cpu.features()
    if not f.fast_int8:
        _warn_once(
            "int8",
            f'quantize = "int8" gains little on this CPU ({f.model}): it has no AVX-512 '
            "VNNI, so int8 matmuls run about as fast as float32 (1.06x measured on an AVX2-only "
            "EPYC, against 2.2x with VNNI). Accuracy costs the same a quarter point either way.",
        )
    elif cpu.bf16_pays():
        _warn_once(
            "int8",
            f'quantize = "int8" is slower than bf16 on this CPU ({f.model}), whose bf16 units ran '
            f"{cpu.bf16_speedup():.1f}x float32 here: on an AMX Xeon, MiniLM predicted at 1.13x float32's "
            "words/s in int8 and 1.57x in bf16, which is also closer to float32 (tag_acc -0.07 and -0.01). "
            "Set mixed_precision = true instead, unless the int8 copy's smaller memory is what you need.",
        )


def int8_dynamic(model: Any) -> Any:
    """``model`` (a copy the caller gives up) for CPU prediction in int8: dynamic quantization,
    weights per output channel (closer to fp32 than one scale per matrix, as fast). Linear maps
    with more inputs than outputs (the feed-forward down-projections) stay fp32: their inputs
    are GELU activations whose outliers one int8 scale per pass cannot hold (measured on a
    MiniLM tagger + ner: NER F -0.63 with them quantized, -0.22 without)."""
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    int8_note()
    model = model.eval()
    spec = {
        name: per_channel_dynamic_qconfig
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and module.in_features <= module.out_features
    }
    with warnings.catch_warnings():  # torch points to torchao; the kernels are still there
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, spec, dtype=torch.qint8)


def cpu_predictor(quantize: Optional[str], mixed_precision: bool) -> Optional[str]:
    """Which copy of an encoder CPU prediction runs: "int8", "bf16", or None (the encoder)."""
    if quantize == "int8":
        return "int8"
    return "bf16" if autocast_dtype("cpu", mixed_precision) is not None else None


def predictor_copy(model: Any, kind: str) -> Any:
    """``model`` (a copy the caller gives up) as CPU prediction runs it in ``kind``."""
    from .bf16 import bf16_copy, grid_rows

    # int8 quantization swaps plain linear maps only: take the bf16 row grid off first.
    return int8_dynamic(grid_rows(model, on=False)) if kind == "int8" else bf16_copy(model)


def autocast_dtype(device_type: str, mixed_precision: bool) -> Optional[Any]:
    """The autocast dtype for a device (``"cuda"``/``"cpu"``), or None for float32."""
    if not mixed_precision:
        return None
    import torch

    if device_type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if not cpu_bf16_pays():
        _cpu_bf16_refused()
        return None
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
        if mixed_precision and device_type == "cpu":
            why = "bf16 measured slower here" if cpu.features().native_bf16 else "this CPU has no native bf16"
            return f"float32 ({why}; {FORCE_BF16_ENV}=1 forces bf16)"
        return "float32"
    scaling = "with a gradient scaler" if needs_grad_scaler(dtype) else "no gradient scaling needed"
    name = str(dtype).replace("torch.", "")
    if device_type == "cpu":  # prediction runs a bf16 copy of the encoder (.bf16)
        return f"training: autocast {name} (cpu), float32 weights and gradients, {scaling}; prediction: a {name} copy"
    return f"autocast {name} ({device_type}), float32 weights and gradients, {scaling}"
