"""peft's LoRA ``Linear`` with a leaner forward pass (imported only where peft is installed).

peft computes ``result = base(x) + lora_B(lora_A(dropout(x))) * scaling``: two temporaries the
size of the layer's output (``B·A·x``, then scaled) and a third tensor for the sum, per
adapted layer and per pass. They are freed at once, but glibc keeps most of that churn (its
mmap threshold grows with the large blocks freed), so it shows in peak memory and time:
measured on a BERT-base-sized encoder with LoRA r=8 on every linear map, 1,000-word batches
(medians of 3, alternating), 3,009 MiB and 15.1 s per 6 steps with peft's forward against
2,388 MiB and 13.6 s with this one. Here ``scaling · B·(A·x)`` is added into
the base layer's output in place, by one ``addmm_`` over the flattened rows: no temporary of
the output's size. ``nn.Linear``'s backward does not need its own output, so autograd allows
the in-place add, and gradients are the same as peft's.

Where the base layer is frozen (what ``inject`` sets up) and gradients are on, the layer
runs as one autograd function (:class:`FrozenBaseLora`) instead of three autograd nodes. Its
backward adds the adapter's share of the input gradient into the base's (``addmm_``) instead of
computing it apart and summing, and its input is kept for ``A``'s gradient alone, so where that
input is the output of a GELU whose input autograd keeps anyway (BERT's ``output.dense``, the
widest linear map of a layer), it keeps nothing and computes the GELU again, a few thousand
rows at a time, in the backward pass. Measured on a BERT-base-sized encoder, LoRA r=8 on every
linear map, 1,000-word batches: see ``benchmarks/README.md``.

Every other case (merged, disabled, mixed adapters per batch, variants such as DoRA, a
subclass of ``nn.Linear`` whose forward may differ, dropout on the adapter's input, autocast)
goes through peft's own forward or the plain one below; all compute peft's outputs and
gradients (to float rounding: sums are grouped differently).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
import torch.nn.functional as F
from peft.tuners.lora.layer import Linear as PeftLoraLinear
from torch import nn

from .. import upstream

RECOMPUTE_CHUNK_BYTES = 4 * 2**20  # rows of a recomputed input per step of A's gradient


class FrozenBaseLora(torch.autograd.Function):
    """``x·Wᵀ + b + scaling·(x·Aᵀ)·Bᵀ`` for a frozen ``W`` and ``b``: gradients for ``x``, ``A``
    and ``B`` only. ``gelu_of``, when given, is ``(h, approximate)`` with ``x = gelu(h)``: then
    ``x`` is not kept, and ``A``'s gradient computes it again from ``h``."""

    @staticmethod
    def forward(ctx: Any, rows, weight, bias, lora_a, lora_b, scaling: float, gelu_of):  # type: ignore[override]
        result = F.linear(rows, weight, bias)
        down = rows.mm(lora_a.t())
        result.addmm_(down, lora_b.t(), alpha=scaling)
        # What A's gradient reads: the rows, or the GELU's input (saved tensors, so autograd
        # frees them after the backward pass and checks they were not changed in place).
        kept, ctx.approximate = (rows, None) if gelu_of is None else gelu_of
        ctx.scaling = scaling
        ctx.save_for_backward(weight, lora_a, lora_b, down, kept)
        return result

    @staticmethod
    def backward(ctx: Any, grad):  # type: ignore[override]
        weight, lora_a, lora_b, down, kept = ctx.saved_tensors
        need_x, _, _, need_a, need_b, _, _ = ctx.needs_input_grad
        grad_down = grad.mm(lora_b).mul_(ctx.scaling)
        grad_b = grad.t().mm(down).mul_(ctx.scaling) if need_b else None
        grad_a = None
        if need_a and ctx.approximate is None:
            grad_a = grad_down.t().mm(kept)
        elif need_a:
            grad_a = _grad_from_gelu(grad_down, kept, ctx.approximate)
        grad_x = grad.mm(weight).addmm_(grad_down, lora_a) if need_x else None
        return grad_x, None, None, grad_a, grad_b, None, None


def _grad_from_gelu(grad_down: torch.Tensor, source: torch.Tensor, approximate: str) -> torch.Tensor:
    """``grad_downᵀ · gelu(source)``, with the GELU computed again a chunk of rows at a time (no
    temporary the size of the whole input)."""
    source = source.reshape(-1, source.shape[-1])
    step = max(1, RECOMPUTE_CHUNK_BYTES // (source.shape[1] * source.element_size()))
    out = grad_down.new_zeros(grad_down.shape[1], source.shape[1])
    for lo in range(0, source.shape[0], step):
        out.addmm_(grad_down[lo : lo + step].t(), F.gelu(source[lo : lo + step], approximate=approximate))
    return out


class LeanLoraLinear(PeftLoraLinear):
    """A LoRA ``Linear`` that adds ``scaling · B·A·x`` into the base output in place."""

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if args or kwargs or not self._lean():
            return super().forward(x, *args, **kwargs)
        # Rows first: addmm_ then writes into a tensor of its own, not into a view of one (an
        # in-place op on a view makes autograd copy the whole gradient in the backward pass).
        rows = x.reshape(-1, x.shape[-1])
        fused = self._frozen_base_args(x, rows)
        if fused is not None:
            return FrozenBaseLora.apply(rows, *fused).view(*x.shape[:-1], -1)
        result = self.base_layer(rows)
        for name in self.active_adapters:
            if name not in self.lora_A:
                continue
            lora_a = self.lora_A[name]
            down = lora_a(self.lora_dropout[name](rows.to(lora_a.weight.dtype))).to(result.dtype)
            up = self.lora_B[name].weight.t().to(result.dtype)
            result.addmm_(down, up, alpha=self.scaling[name])
        return result.view(*x.shape[:-1], result.shape[-1])

    def _frozen_base_args(self, x: torch.Tensor, rows: torch.Tensor) -> Optional[Tuple[Any, ...]]:
        """The arguments of :class:`FrozenBaseLora` after ``rows``, where it applies: gradients
        on, no autocast, a frozen base, one adapter without dropout, one dtype throughout."""
        if not torch.is_grad_enabled() or torch.is_autocast_enabled(x.device.type):
            return None
        base = self.get_base_layer()
        if base.weight.requires_grad or (base.bias is not None and base.bias.requires_grad):
            return None
        names = [n for n in self.active_adapters if n in self.lora_A]
        if len(names) != 1 or not isinstance(self.lora_dropout[names[0]], nn.Identity):
            return None
        lora_a, lora_b = self.lora_A[names[0]].weight, self.lora_B[names[0]].weight
        if not (rows.dtype == base.weight.dtype == lora_a.dtype == lora_b.dtype):
            return None
        gelu_of = upstream.gelu_source(x)
        if gelu_of is not None and gelu_of[0].shape != x.shape:
            gelu_of = None
        return base.weight, base.bias, lora_a, lora_b, float(self.scaling[names[0]]), gelu_of

    def _lean(self) -> bool:
        """Whether the plain path applies (the caller checked that no extra arguments, such as
        per-batch adapter names, came): unmerged adapters on a plain ``nn.Linear``, no
        variant, no bias on ``B``."""
        if self.disable_adapters or self.merged:
            return False
        if type(self.get_base_layer()) is not nn.Linear:
            return False
        for name in self.active_adapters:
            if name in self.lora_variant or (name in self.lora_B and self.lora_B[name].bias is not None):
                return False
        return True


__all__ = ["FrozenBaseLora", "LeanLoraLinear"]
