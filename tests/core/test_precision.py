"""The one precision policy: float32 unless asked; bf16 on the CPU when asked; on a GPU
bf16 where it has it, else fp16 with a gradient scaler."""

from __future__ import annotations

import contextlib

import torch

from spacy_transfer.core import precision


def test_float32_unless_mixed_precision_is_set():
    assert precision.autocast_dtype("cpu", False) is None
    assert precision.autocast_dtype("cuda", False) is None
    assert isinstance(precision.autocast("cpu", False), contextlib.nullcontext)
    assert precision.describe("cpu", False) == "float32"


def test_cpu_mixed_precision_is_bf16_without_a_scaler():
    assert precision.autocast_dtype("cpu", True) == torch.bfloat16
    assert not precision.needs_grad_scaler(torch.bfloat16)
    with precision.autocast("cpu", True):
        out = torch.nn.Linear(4, 4)(torch.ones(2, 4))
    assert out.dtype == torch.bfloat16


def test_only_fp16_needs_a_gradient_scaler():
    assert precision.needs_grad_scaler(torch.float16)
    assert not precision.needs_grad_scaler(None)


def test_the_grad_scaler_is_on_for_fp16_only():
    from spacy_transfer.core.upstream import scaler_enabled

    assert not scaler_enabled(precision.grad_scaler("cpu", True, {}))  # bf16: no scaling
    assert not scaler_enabled(precision.grad_scaler("cpu", False, {"enabled": True}))
