"""What this CPU computes natively, and so which precision pays on it.

bf16 autocast is 3x faster than float32 on CPUs with AVX512_BF16 or AMX, and 7-8x
slower on CPUs without them (AVX2-only EPYCs, most laptops), where every bf16 matmul is
emulated. int8 dynamic quantization gains 2x with VNNI and little without. The features
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


def rows() -> List[Tuple[str, str]]:
    """``spacy-transfer info``'s CPU rows: the features and what each precision setting does here."""
    f = features()
    bf16 = (
        "bf16 autocast (native bf16: " + ("AMX" if f.amx else "AVX512_BF16") + ")"
        if f.native_bf16
        else "runs float32 with a warning: no native bf16 here, where bf16 is several times "
        "slower (SPACY_TRANSFER_FORCE_BF16=1 forces it)"
    )
    int8 = (
        "int8 dynamic quantization with VNNI (about 2x fp32)"
        if f.fast_int8
        else "int8 without VNNI: little faster than float32 here (about 1.06x measured on AVX2)"
    )
    return [
        ("CPU", f.model),
        ("CPU flags", " ".join(f.flags) or "none of " + ", ".join(FLAG_NAMES)),
        ("torch CPU kernels", f.kernels),
        ("mixed_precision = true (CPU)", bf16),
        ('quantize = "int8" (CPU)', int8),
    ]
