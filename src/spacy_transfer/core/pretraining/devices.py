"""CPU or GPU for pretraining."""

from __future__ import annotations

from typing import Optional

from thinc.api import NumpyOps, require_cpu, require_gpu, set_current_ops, set_gpu_allocator

from ...errors import UserError


def setup_pretraining_device(gpu_id: int, allocator: Optional[str] = None) -> str:
    """Select the device; on CPU, thinc's matrix multiplications go through numpy's BLAS.

    thinc's default CPU backend multiplies with blis, which on common x86 CPUs is several
    times slower than the BLAS numpy ships with (same float32 math, different kernels).
    """
    if gpu_id >= 0:
        try:
            require_gpu(gpu_id)
        except Exception as e:  # thinc/cupy raise ValueError or CUDA errors
            raise UserError(f"Cannot use GPU {gpu_id}", rows=[("--gpu-id", " ".join(str(e).split())[:200])],
                            hint="Install cupy for your CUDA version (pip install 'spacy-transfer[cuda12x]') or run on CPU (--gpu-id -1).") from None
        if allocator:
            set_gpu_allocator(allocator)
        return f"GPU {gpu_id}"
    require_cpu()
    set_current_ops(NumpyOps(use_blis=False))
    return "CPU"
