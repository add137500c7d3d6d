"""The CPU's features as torch reports them, and what they say about bf16 and int8.

A CPU without native bf16 is made real here by capping torch's own kernels
(``ATEN_CPU_CAPABILITY=avx2``, ``ONEDNN_MAX_CPU_ISA=AVX2``): torch then runs bf16 the
emulated, slow way an AVX2-only EPYC does, and reports so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from spacy_transfer.core import cpu

AVX2_ONLY = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def run_python(code: str, env: dict) -> str:
    import os

    out = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout + out.stderr


def test_features_are_the_ones_proc_cpuinfo_and_torch_report():
    f = cpu.features()
    assert f.kernels == torch.backends.cpu.get_cpu_capability()
    info = Path("/proc/cpuinfo")
    if info.exists():
        flags = set(next(line for line in info.read_text().splitlines() if line.startswith("flags")).split())
        assert set(f.flags) == flags & set(cpu.FLAG_NAMES)
        assert f.model in info.read_text()
        # torch's report agrees with the hardware's on bf16 units
        assert f.avx512_bf16 == ("avx512_bf16" in flags)
        assert f.amx == ("amx_bf16" in flags)
    assert f.native_bf16 == ((f.avx512_bf16 or f.amx) and f.onednn_bf16 and f.kernels.startswith("AVX512"))


def test_capped_kernels_mean_no_native_bf16_nor_fast_int8():
    code = "import json; from spacy_transfer.core import cpu; print(json.dumps(cpu.features().as_dict()))"
    capped = json.loads(run_python(code, AVX2_ONLY).strip().splitlines()[-1])
    assert capped["kernels"] == "AVX2"
    assert capped["native_bf16"] is False and capped["fast_int8"] is False
    assert capped["flags"] == list(cpu.features().flags)  # the hardware is unchanged


def test_bf16_pays_only_with_bf16_units_that_measure_clearly_faster():
    speedup = cpu.bf16_speedup()
    assert speedup > 0 and cpu.bf16_speedup() is speedup  # measured once per process
    assert cpu.bf16_pays() == (cpu.features().native_bf16 and speedup >= cpu.BF16_MIN_SPEEDUP)


def test_info_rows_say_what_each_setting_does_here():
    rows = dict(cpu.rows())
    assert rows["CPU"] == cpu.features().model
    bf16 = rows["mixed_precision = true (CPU)"]
    assert ("autocast in training, a bf16 copy in prediction" in bf16) == cpu.bf16_pays()
    assert ("runs float32" in bf16) == (not cpu.bf16_pays())
    if cpu.features().native_bf16 and not cpu.bf16_pays():  # bf16 units, slow bf16 (a VM without AMX)
        assert f"bf16 measured {cpu.bf16_speedup():.2f}x float32" in bf16
    int8 = rows['quantize = "int8" (CPU)']
    assert ("without VNNI" in int8) == (not cpu.features().fast_int8)
    assert ("slower than bf16 here" in int8) == (cpu.features().fast_int8 and cpu.bf16_pays())
