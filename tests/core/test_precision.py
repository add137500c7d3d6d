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


def test_cpu_mixed_precision_is_bf16_without_a_scaler(monkeypatch):
    monkeypatch.setenv(precision.FORCE_BF16_ENV, "1")
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


def test_cpu_mixed_precision_follows_the_cpus_bf16_units():
    from spacy_transfer.core import cpu

    expected = torch.bfloat16 if cpu.bf16_pays() else None
    assert precision.autocast_dtype("cpu", True) == expected


def test_bf16_units_that_measure_slower_than_float32_run_float32_and_say_the_figure():
    from .test_cpu import run_python

    # The decision is the child's own measurement (a fresh process measures again).
    out = run_python(CHECK_CAPPED, {})
    if "pays True" in out:
        assert "dtypes torch.bfloat16 torch.bfloat16 torch.bfloat16" in out and "warnings 0" in out
    elif "native True" in out:  # e.g. AVX512_BF16 without AMX: bf16 measured 0.5-0.8x here
        assert "dtypes None None torch.float32" in out and "warnings 1" in out
        assert "its bf16 units measured" in out and "x float32's speed here" in out
        assert "describe float32 (bf16 measured slower here" in out
    else:
        assert "no native bf16" in out


CHECK_CAPPED = """
import warnings, torch
from spacy_transfer.core import precision
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    first = precision.autocast_dtype("cpu", True)
    second = precision.autocast_dtype("cpu", True)
    with precision.autocast("cpu", True):
        out = torch.nn.Linear(4, 4)(torch.ones(2, 4))
print("dtypes", first, second, out.dtype)
print("warnings", len(seen))
for w in seen:
    print("warning", w.message)
print("describe", precision.describe("cpu", True))
print("gpu", precision.autocast_dtype("cuda", True) is not None)
from spacy_transfer.core import cpu
print("native", cpu.features().native_bf16, "pays", cpu.bf16_pays())
"""


def test_without_native_bf16_the_cpu_runs_float32_and_warns_once():
    from .test_cpu import AVX2_ONLY, run_python

    out = run_python(CHECK_CAPPED, AVX2_ONLY)
    assert "dtypes None None torch.float32" in out
    assert "warnings 1" in out
    assert "no native bf16" in out and "SPACY_TRANSFER_FORCE_BF16=1" in out
    assert "describe float32 (this CPU has no native bf16" in out


def test_forcing_bf16_runs_it_on_any_cpu():
    from .test_cpu import AVX2_ONLY, run_python

    out = run_python(CHECK_CAPPED, {**AVX2_ONLY, precision.FORCE_BF16_ENV: "1"})
    assert "dtypes torch.bfloat16 torch.bfloat16 torch.bfloat16" in out
    assert "warnings 0" in out
    assert "describe training: autocast bfloat16 (cpu), float32 weights and gradients" in out
    assert "; prediction: a bfloat16 copy" in out


def test_cpu_prediction_runs_an_int8_copy_when_asked_else_a_bf16_one_where_bf16_runs(monkeypatch):
    assert precision.cpu_predictor("int8", True) == "int8"
    assert precision.cpu_predictor(None, False) is None
    monkeypatch.setenv(precision.FORCE_BF16_ENV, "1")
    assert precision.cpu_predictor(None, True) == "bf16"
    copy = precision.predictor_copy(torch.nn.Sequential(torch.nn.Linear(4, 4)), "bf16")
    assert [type(m).__name__ for m in copy.modules()] == ["Float32Outputs", "Sequential", "GridLinear"]


CHECK_INT8 = """
import warnings
from spacy_transfer.core import cpu, precision
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    precision.int8_note()
    precision.int8_note()
print("warnings", len(seen))
for w in seen:
    print("warning", w.message)
print("fast_int8", cpu.features().fast_int8, "bf16_pays", cpu.bf16_pays())
"""


def test_int8_says_once_where_it_gains_little_and_nothing_where_it_pays_best():
    from .test_cpu import AVX2_ONLY, run_python

    capped = run_python(CHECK_INT8, AVX2_ONLY)
    assert "warnings 1" in capped and "no AVX-512 VNNI" in capped
    native = run_python(CHECK_INT8, {})
    if "fast_int8 True bf16_pays True" in native:  # AMX: bf16 is the faster choice, and it says so
        assert "warnings 1" in native and "slower than bf16" in native and "mixed_precision = true" in native
    elif "fast_int8 True bf16_pays False" in native:  # VNNI without bf16 that pays: int8 is the fast path
        assert "warnings 0" in native
    else:
        assert "warnings 1" in native and "no AVX-512 VNNI" in native
