"""Embedding gradients written into a buffer kept between steps, for training on the CPU.

Why: torch's embedding backward allocates a zeroed gradient the size of the whole table on
every step and adds the looked-up rows into it. A vocabulary table is large (MiniLM's 30,522
x 384 floats: 45 MiB, half the encoder), above glibc's largest mmap threshold, so each step
maps fresh pages and faults every one of them in: 11-13 ms per step for MiniLM's table on
this machine, against about 1 ms to zero a kept buffer and add the rows (measured alone);
in a MiniLM training step the embedding's backward was 3% of the time (py-spy).

:class:`BufferedEmbedding` (``nn.Embedding`` with another forward and no state of its own,
so weights, ``state_dict`` and ``isinstance`` checks are unchanged) looks rows up as torch
does; its backward adds the rows' gradients into the weight's ``.grad``, which is the kept
buffer, zeroed, whenever the optimizer has cleared it. One lookup's gradient is torch's bit
for bit (``index_add_`` in the same order, the padding row left out). Where several lookups
add up (several forward passes in a step, accumulated steps), torch sums each lookup's
table first and then the tables; here each lookup's rows go into the running total, so the
last bits of a row that recurs may differ (float addition order). The gradient goes to ``.grad`` directly, not through autograd's return value, so it
only applies where gradients are read from ``.grad`` (our training loop, with gradient
accumulation, tied weights and the distributed all-reduce): off the CPU, outside training,
for a frozen table, with ``max_norm``, ``scale_grad_by_freq`` or ``sparse``, torch's own
embedding runs.
"""

from __future__ import annotations

import weakref
from typing import Any, Dict, Optional

import torch
from torch import nn
from torch.nn import functional as F

# By the weight's id, dropped with the weight (tensors cannot key a WeakKeyDictionary: their
# == is elementwise). Not an attribute of the weight, which a deepcopy of the model would copy.
_BUFFERS: Dict[int, torch.Tensor] = {}


def gradient_buffer(weight: torch.Tensor) -> torch.Tensor:
    """``weight.grad``, set to the kept (zeroed) buffer first when it is cleared."""
    if weight.grad is not None:
        return weight.grad
    key = id(weight)
    buffer = _BUFFERS.get(key)
    if buffer is None or buffer.shape != weight.shape or buffer.dtype != weight.dtype:
        if buffer is None:
            weakref.finalize(weight, _BUFFERS.pop, key, None)
        buffer = torch.zeros_like(weight, memory_format=torch.contiguous_format)
        _BUFFERS[key] = buffer
    else:
        buffer.zero_()
    weight.grad = buffer
    return buffer


class _Lookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, ids: torch.Tensor, weight: torch.Tensor, padding_idx: Optional[int]):  # type: ignore[override]
        ctx.save_for_backward(ids)
        ctx.weight, ctx.padding_idx = weight, padding_idx
        return F.embedding(ids, weight, padding_idx)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor):  # type: ignore[override]
        (ids,) = ctx.saved_tensors
        weight = ctx.weight
        rows, index = grad.reshape(-1, weight.shape[1]), ids.reshape(-1)
        if ctx.padding_idx is not None:  # torch gives the padding row no gradient
            used = index != ctx.padding_idx
            rows, index = rows[used], index[used]
        gradient_buffer(weight).index_add_(0, index, rows.to(weight.dtype))
        return None, None, None


class BufferedEmbedding(nn.Embedding):
    """``nn.Embedding`` whose CPU training gradient goes into a buffer kept between steps."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self._buffered():
            return super().forward(input)
        return _Lookup.apply(input, self.weight, self.padding_idx)

    def _buffered(self) -> bool:
        weight = self.weight
        return (
            self.training
            and torch.is_grad_enabled()
            and weight.requires_grad
            and weight.device.type == "cpu"
            and weight.dim() == 2
            and self.max_norm is None
            and not self.scale_grad_by_freq
            and not self.sparse
        )


def install(model: nn.Module) -> int:
    """Make ``model``'s plain embeddings buffered (in place); how many there are."""
    count = 0
    for module in model.modules():
        if type(module) is nn.Embedding:
            module.__class__ = BufferedEmbedding  # same object, weights and hooks
        if type(module) is BufferedEmbedding:
            count += 1
    return count


__all__ = ["BufferedEmbedding", "gradient_buffer", "install"]
