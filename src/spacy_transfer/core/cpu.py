"""What this CPU computes natively, and so which precision pays on it.

bf16 autocast is about 3x faster than float32 on CPUs with AMX, and 7-8x slower on CPUs
without bf16 units (AVX2-only EPYCs, most laptops), where every bf16 matmul is emulated. In
between, a CPU that reports AVX512_BF16 without AMX ran it slower than float32 (0.6-0.75x), so
whether bf16 pays is measured once per process (:func:`bf16_speedup`), not read off the flags. int8 dynamic quantization gains 2x with VNNI and little without. The features
come from torch's own CPU report (the instructions its kernels can use here) and
``/proc/cpuinfo`` for the model name, and honour the caps a user sets on the kernels
(``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``): a capped library runs the slow path
whatever the hardware has.
"""

from __future__ import annotations

import functools
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Tuple

from .upstream import torch_cpu_feature

FLAG_NAMES = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni", "avx_vnni")


@dataclass(frozen=True)
class CpuFeatures:
    """The CPU's relevant features as torch sees them."""

    model: str
    flags: Tuple[str, ...]  # which of FLAG_NAMES /proc/cpuinfo lists
    kernels: str  # torch's kernel level: "AVX512", "AVX2", "DEFAULT", ...
    avx512_bf16: bool
    amx: bool
    vnni: bool
    onednn_bf16: bool  # oneDNN runs bf16 matmuls with bf16 instructions (not capped below them)

    @property
    def native_bf16(self) -> bool:
        """bf16 matmuls run on bf16 units here, so autocast pays."""
        return (self.avx512_bf16 or self.amx) and self.onednn_bf16 and self.kernels.startswith("AVX512")

    @property
    def fast_int8(self) -> bool:
        """int8 dot products run on VNNI units here, so dynamic quantization pays."""
        return self.vnni and self.kernels.startswith("AVX512")

    def as_dict(self) -> Dict[str, object]:
        return {**asdict(self), "native_bf16": self.native_bf16, "fast_int8": self.fast_int8}


def _cpuinfo() -> Tuple[str, Tuple[str, ...]]:
    """Model name and relevant flags from ``/proc/cpuinfo`` (Linux); elsewhere the platform's name."""
    path = Path("/proc/cpuinfo")
    if not path.exists():
        return platform.processor() or platform.machine(), ()
    model, flags = "", set()
    for line in path.read_text(errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and not model:
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return model or platform.machine(), tuple(f for f in FLAG_NAMES if f in flags)


@functools.lru_cache(maxsize=1)
def features() -> CpuFeatures:
    """This process's CPU features (read once)."""
    import torch

    model, flags = _cpuinfo()
    return CpuFeatures(
        model=model,
        flags=flags,
        kernels=torch.backends.cpu.get_cpu_capability(),
        avx512_bf16=torch_cpu_feature("avx512_bf16"),
        amx=torch_cpu_feature("amx_tile"),
        vnni=torch_cpu_feature("vnni"),
        onednn_bf16=torch_cpu_feature("mkldnn_bf16"),
    )


BF16_MIN_SPEEDUP = 1.25  # bf16 must clearly beat float32 here: a choice near 1x could flip with noise


@functools.lru_cache(maxsize=1)
def bf16_speedup() -> float:
    """float32's time over bf16 autocast's for one encoder-sized linear map on this CPU (best of
    10 alternations of 3 calls each, ~0.1 s). Why measured: a CPU that reports bf16 units may
    still run bf16 slower than float32. On a Xeon VM exposing AVX512_BF16 but not AMX, MiniLM's
    forward ran 0.61-0.64x and a training step 0.74-0.77x float32's speed under bf16 autocast
    (this check: 0.5-0.8x, also with the cores loaded); with AMX about 3x."""
    import time

    import torch

    linear = torch.nn.Linear(384, 1536, dtype=torch.float32)
    x = torch.randn(512, 384, dtype=torch.float32)
    best = {False: float("inf"), True: float("inf")}
    with torch.inference_mode():
        for i in range(11):
            for bf16 in (False, True):
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    start = time.perf_counter()
                    for _ in range(3):
                        linear(x)
                    if i:  # the first round warms both paths up
                        best[bf16] = min(best[bf16], time.perf_counter() - start)
    return best[False] / best[True]


def bf16_pays() -> bool:
    """bf16 autocast is worth it here: native bf16 units, and measured clearly faster than float32."""
    return features().native_bf16 and bf16_speedup() >= BF16_MIN_SPEEDUP


def rows() -> List[Tuple[str, str]]:
    """``spacy-transfer info``'s CPU rows: the features and what each precision setting does here."""
    f = features()
    if bf16_pays():
        bf16 = (
            f"bf16: autocast in training, a bf16 copy in prediction (native bf16: {'AMX' if f.amx else 'AVX512_BF16'}; "
            f"{bf16_speedup():.1f}x float32 measured)"
        )
    elif f.native_bf16:
        bf16 = (
            f"runs float32 with a warning: bf16 units, but bf16 measured {bf16_speedup():.2f}x float32's "
            "speed here (SPACY_TRANSFER_FORCE_BF16=1 forces it)"
        )
    else:
        bf16 = (
            "runs float32 with a warning: no native bf16 here, where bf16 is several times "
            "slower (SPACY_TRANSFER_FORCE_BF16=1 forces it)"
        )
    if not f.fast_int8:
        int8 = "int8 without VNNI: little faster than float32 here (about 1.06x measured on AVX2)"
    elif bf16_pays():
        int8 = "int8 dynamic quantization with VNNI, slower than bf16 here (AMX: 1.13x against 1.57x float32)"
    else:
        int8 = "int8 dynamic quantization with VNNI (about 2x fp32)"
    return [
        ("CPU", f.model),
        ("CPU flags", " ".join(f.flags) or "none of " + ", ".join(FLAG_NAMES)),
        ("torch CPU kernels", f.kernels),
        ("mixed_precision = true (CPU)", bf16),
        ('quantize = "int8" (CPU)', int8),
    ]
