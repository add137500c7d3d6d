"""Dropout for Hugging Face encoders training on the CPU, with masks drawn 6-8x faster.

Why: torch's CPU dropout draws one Mersenne-Twister number per element in a serial loop
(~17 ns per element here). A BERT layer drops out its attention probabilities (heads x
length x length per row) and twice its hidden states, so on MiniLM with windows of ~170
wordpieces the dropout masks were 15% of a whole training step (py-spy; see
benchmarks/README.md). Here each mask comes from numpy's SFC64 generator, 16 bits per
element (``random_raw``, ~1.5 ns per element), seeded from torch's default generator, so
``torch.manual_seed``, checkpoints and exact resume keep covering it.

Same distribution as torch's: each element is kept with probability ``1 - p`` (``p``
rounded to a multiple of 1/65536) and scaled by one over the exact keep probability, so
the expectation is unchanged. Only the draws differ. Off the CPU, outside training, at
``p = 0`` or for tensors that are not floating point, torch's own dropout runs unchanged.

:func:`install` swaps a model's ``nn.Dropout`` modules for :class:`FastDropout` (a
subclass without state: ``state_dict``, ``p`` and ``isinstance`` checks are unchanged) and
routes its attention, where the model uses the ``sdpa`` implementation, through
:func:`attention`: the same math with the fast mask while training on the CPU, and
transformers' own ``sdpa`` function in every other case.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy
import torch
from torch import nn
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from ..upstream import hf_attention_implementation, hf_can_set_attention, softmax_backward

ATTENTION = "spacy_transfer_sdpa"
_LEVELS = 1 << 16  # one draw of 16 bits per element


def keep_mask(shape: Tuple[int, ...], p: float) -> Tuple[torch.Tensor, float]:
    """A boolean CPU mask (True = kept, probability ``1 - p``) and the scale of the kept,
    drawn from a seed that torch's default generator gives."""
    threshold = min(_LEVELS, max(0, round(p * _LEVELS)))
    n = int(numpy.prod(shape))
    if threshold >= _LEVELS:
        return torch.zeros(shape, dtype=torch.bool), 0.0
    seed = int(torch.randint(0, 2**62, (1,), dtype=torch.int64).item())
    draws = numpy.random.SFC64(seed).random_raw((n + 3) // 4).view(numpy.uint16)[:n]
    keep = torch.from_numpy(draws >= threshold).view(shape)
    return keep, _LEVELS / (_LEVELS - threshold)


def as_floats(keep: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The boolean mask as 0/1 of ``dtype``, read as bytes: torch converts uint8 to floats
    3-5x faster than bool (the same 0/1 bytes; 0.24 vs 0.79 ms for a MiniLM attention mask of
    8 x 12 x 160 x 160, AVX-512 or AVX2 kernels alike)."""
    return keep.view(torch.uint8).to(dtype)


def drop(x: torch.Tensor, p: float) -> torch.Tensor:
    """Training-time dropout of a CPU float tensor through :func:`keep_mask`."""
    keep, scale = keep_mask(tuple(x.shape), p)
    return _Dropped.apply(x, keep, scale)


class _Dropped(torch.autograd.Function):
    """``x * keep * scale``, keeping the mask as booleans for the backward pass (a float mask
    would be 4 bytes per element) and multiplying by it as floats (torch's ``where`` on a
    boolean mask was 1.2-1.4x slower than this, forward + backward, on a MiniLM layer's
    hidden states)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, keep: torch.Tensor, scale: float):  # type: ignore[override]
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return (x * as_floats(keep, x.dtype)).mul_(scale)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor):  # type: ignore[override]
        (keep,) = ctx.saved_tensors
        return (grad * as_floats(keep, grad.dtype)).mul_(ctx.scale), None, None


def _fast(x: torch.Tensor, p: float, training: bool) -> bool:
    return training and p > 0.0 and x.device.type == "cpu" and x.is_floating_point()


class FastDropout(nn.Dropout):
    """``nn.Dropout`` whose CPU training masks come from :func:`keep_mask`."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not _fast(input, self.p, self.training):
            return super().forward(input)
        return drop(input, self.p)


def attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: Optional[torch.Tensor],
    dropout: float = 0.0,
    scaling: Optional[float] = None,
    **kwargs: Any,
) -> Tuple[torch.Tensor, None]:
    """transformers' attention interface: scaled dot-product attention whose dropout of the
    attention probabilities uses the fast mask while training on the CPU; anything this
    does not cover (causal or grouped-query attention, position biases, soft caps, other
    devices, prediction) goes to transformers' ``sdpa`` function."""
    # Prediction (the hot path) is decided by the first test alone.
    fast = (
        _fast(query, dropout, module.training)
        and not getattr(module, "is_causal", False)
        and getattr(module, "num_key_value_groups", 1) == 1
        and kwargs.get("position_bias") is None
        and kwargs.get("softcap") is None
        and key.shape[2] == query.shape[2]
    )
    if not fast:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    scale = query.shape[-1] ** -0.5 if scaling is None else scaling
    bias = attention_mask
    if bias is not None and bias.dtype == torch.bool:  # True = attend (transformers' sdpa masks)
        bias = torch.zeros(bias.shape, dtype=query.dtype).masked_fill(~bias, torch.finfo(query.dtype).min)
    if torch.is_autocast_enabled("cpu"):  # bf16: autograd through the plain ops keeps the dtypes right
        weights = torch.matmul(query, key.transpose(2, 3)) * scale
        weights = drop(torch.softmax(weights if bias is None else weights + bias, dim=-1), dropout)
        out = torch.matmul(weights, value)
    else:
        out = DroppedAttention.apply(query, key, value, bias, dropout, scale)
    return out.transpose(1, 2).contiguous(), None


class DroppedAttention(torch.autograd.Function):
    """``dropout(softmax(q k^T * scale + bias)) v`` in as few passes over the attention
    weights as the operations allow, keeping the probabilities and the mask (5 bytes per
    attention weight instead of autograd's 9) for the backward pass.

    Why: at heads x length x length per row the attention weights are 4-5x the size of a
    layer's hidden states, and outside the matrix products each pass over them is memory
    bound; composed of plain ops (scale, bias, softmax, scale and mask, then the same again
    and softmax's backward as five ops) they were a fifth of a MiniLM training step (py-spy,
    benchmarks/README.md). Here the scales go on the small tensors (queries, outputs,
    gradients), the mask is applied by one multiply each way, and softmax's backward
    is torch's fused kernel."""

    @staticmethod
    def forward(ctx: Any, query, key, value, bias, p: float, scale: float):  # type: ignore[override]
        # Hugging Face hands over (batch, heads, length, dim) views of (batch, length, heads,
        # dim) outputs; batched matmuls would copy each one at every use, so copy once here.
        query, key, value = (t.contiguous() for t in (query, key, value))
        weights = torch.matmul(query * scale, key.transpose(-1, -2))
        if bias is not None:
            weights.add_(bias)
        probs = torch.softmax(weights, dim=-1)
        del weights
        keep, kept_scale = keep_mask(tuple(probs.shape), p)
        # A multiply by the mask as floats: torch's where() is 2-3x slower here.
        out = torch.matmul(probs * as_floats(keep, probs.dtype), value).mul_(kept_scale)
        ctx.save_for_backward(query, key, value, probs, keep)
        ctx.kept_scale, ctx.scale = kept_scale, scale
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_out):  # type: ignore[override]
        query, key, value, probs, keep = ctx.saved_tensors
        grad_out = (grad_out * ctx.kept_scale).contiguous()
        kept = as_floats(keep, probs.dtype)
        del keep
        grad_value = torch.matmul((probs * kept).transpose(-1, -2), grad_out)
        grad_probs = torch.matmul(grad_out, value.transpose(-1, -2)).mul_(kept)
        del kept
        grad_weights = softmax_backward(grad_probs, probs)
        del grad_probs
        grad_query = torch.matmul(grad_weights, key).mul_(ctx.scale)
        grad_key = torch.matmul(grad_weights.transpose(-1, -2), query).mul_(ctx.scale)
        return grad_query, grad_key, grad_value, None, None, None


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    if ATTENTION not in ALL_ATTENTION_FUNCTIONS:
        AttentionInterface.register(ATTENTION, attention)
        # The same masks as sdpa (without an entry transformers builds no mask at all).
        AttentionMaskInterface.register(ATTENTION, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])


def install(model: nn.Module) -> nn.Module:
    """Fast CPU training dropout in ``model`` (in place; prediction is unchanged)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Dropout:
                fast = FastDropout(p=child.p, inplace=child.inplace)
                fast.train(child.training)
                setattr(parent, name, fast)
    # A model asked for its attention weights keeps its own attention (ours returns none,
    # and transformers refuses to save such a config).
    wants_weights = bool(getattr(getattr(model, "config", None), "output_attentions", False))
    if hf_attention_implementation(model) == "sdpa" and hf_can_set_attention(model) and not wants_weights:
        _register()
        model.set_attn_implementation(ATTENTION)
    return model
