"""Every private attribute of thinc, torch, spaCy and peft that spacy-transfer relies on, here
and nowhere else, each with the reason it is needed. ``tests/core/test_upstream.py`` checks
each one on the real objects, so an upstream rename fails that test by name rather than a
resume or a listener somewhere later.
"""

from __future__ import annotations

from typing import Any, Iterator, List, Optional, Tuple


def shim_module(shim: Any) -> Optional[Any]:
    """The torch module behind a thinc shim (``PyTorchShim`` and our ``HFShim`` keep it in
    ``_model``; thinc has no public accessor), or None."""
    module = getattr(shim, "_model", None)
    return module if hasattr(module, "named_parameters") else None


def set_shim_module(shim: Any, module: Any) -> None:
    """Put ``module`` behind a thinc ``PyTorchShim`` (which keeps it in ``_model``; thinc
    has no setter): spacy-transformers' ``set_pytorch_transformer`` swaps encoders so."""
    shim._model = module


def shim_parameters(shim: Any) -> Iterator[Tuple[str, Any]]:
    """``(name, tensor)`` of a shim's torch parameters (none for other shims)."""
    module = shim_module(shim)
    if module is not None:
        yield from module.named_parameters()


def shim_grad_scaler(shim: Any) -> Optional[Any]:
    """A shim's ``PyTorchGradScaler`` (thinc keeps it in ``_grad_scaler``), when enabled."""
    scaler = getattr(shim, "_grad_scaler", None)
    return scaler if scaler is not None and scaler_enabled(scaler) else None


def shim_mixed_precision(shim: Any) -> bool:
    """Whether a shim was configured for mixed precision: thinc's ``PyTorchShim`` keeps the
    flag in ``_mixed_precision`` (our transformer shim in its public ``cfg``)."""
    return bool(
        getattr(shim, "_mixed_precision", False) or (getattr(shim, "cfg", None) or {}).get("mixed_precision")
    )


def scaler_enabled(scaler: Any) -> bool:
    """Whether a thinc ``PyTorchGradScaler`` scales (``_enabled``: no public flag)."""
    return bool(getattr(scaler, "_enabled", False))


def scaler_state(scaler: Any) -> Tuple[Any, Any]:
    """The scale and growth counter of a thinc ``PyTorchGradScaler`` (tensors it keeps in
    ``_scale`` / ``_growth_tracker``): an exact resume of fp16 training needs both."""
    return scaler._scale, scaler._growth_tracker


def set_scaler_state(scaler: Any, scale: Any, growth: Any) -> None:
    scaler._scale.copy_(scale)
    scaler._growth_tracker.copy_(growth)


def radam_buffer(optimizer: Any) -> List[List[Any]]:
    """thinc's RAdam step-size cache (``Optimizer._radam_buffer``): part of its state."""
    return [[None if x is None else float(x) for x in row] for row in optimizer._radam_buffer]


def set_radam_buffer(optimizer: Any, rows: List[List[Any]]) -> None:
    optimizer._radam_buffer = [list(row) for row in rows]


def link_components(nlp: Any) -> None:
    """Connect listeners to their upstream ``tok2vec``/``transformer`` components: spaCy's
    ``Language._link_components``, which ``init_nlp`` calls and exposes no public name for."""
    nlp._link_components()


def hf_attention_implementation(model: Any) -> Optional[str]:
    """The attention a Hugging Face model runs (``config._attn_implementation``: transformers
    reads it on every forward; there is no public getter)."""
    return getattr(getattr(model, "config", None), "_attn_implementation", None)


def hf_can_set_attention(model: Any) -> bool:
    """Whether ``set_attn_implementation`` can switch this model (transformers' own check,
    ``_can_set_attn_implementation``, reads the class's source)."""
    check = getattr(model, "_can_set_attn_implementation", None)
    try:
        return bool(check()) if callable(check) else False
    except (OSError, TypeError):  # a class whose source cannot be read keeps its attention
        return False


# torch reports what its CPU kernels can use only through private helpers.
_TORCH_CPU_FEATURES = {
    "avx512_bf16": lambda torch: torch.cpu._is_avx512_bf16_supported(),
    "amx_tile": lambda torch: torch.cpu._is_amx_tile_supported(),
    "vnni": lambda torch: torch.cpu._is_vnni_supported(),
    # oneDNN's own answer, which honours ONEDNN_MAX_CPU_ISA.
    "mkldnn_bf16": lambda torch: torch.ops.mkldnn._is_mkldnn_bf16_supported(),
}


def torch_cpu_feature(name: str) -> bool:
    """Whether torch's CPU kernels can use a feature (``torch.cpu._is_*_supported``,
    ``torch.ops.mkldnn._is_mkldnn_bf16_supported``); False where this torch lacks the helper."""
    import torch

    try:
        return bool(_TORCH_CPU_FEATURES[name](torch))
    except (AttributeError, RuntimeError):
        return False


# ---------------------------------------------------------------------------- torch's multi-tensor kernels
# The fused Adam step (core.state.fused_adam) runs on torch's multi-tensor kernels, which
# torch.optim uses internally and exposes under private names only.


def softmax_backward(grad: Any, probs: Any) -> Any:
    """The gradient of the scores of ``probs = softmax(scores, -1)``: ``probs * (grad - sum(grad
    * probs))`` in torch's one fused pass (``torch._softmax_backward_data``)."""
    import torch

    return torch._softmax_backward_data(grad, probs, -1, probs.dtype)


def gelu_source(tensor: Any) -> Optional[Tuple[Any, str]]:
    """``(input, approximate)`` when ``tensor`` is the output of ``torch.nn.functional.gelu``
    whose input autograd keeps for its backward (``GeluBackward0._saved_self``), else None."""
    node = getattr(tensor, "grad_fn", None)
    if node is None or type(node).__name__ != "GeluBackward0":
        return None
    return node._saved_self, str(node._saved_approximate)


def foreach_add_(tensors: List[Any], others: List[Any], alpha: float) -> None:
    """``tensors[i] += alpha * others[i]`` in one kernel launch (``torch._foreach_add_``)."""
    import torch

    torch._foreach_add_(tensors, others, alpha=alpha)


def foreach_mul_(tensors: List[Any], scalars: Any) -> None:
    """``tensors[i] *= scalars[i]`` (or one scalar for all) (``torch._foreach_mul_``)."""
    import torch

    torch._foreach_mul_(tensors, scalars)


def foreach_norm(tensors: List[Any]) -> List[Any]:
    """Each tensor's L2 norm (``torch._foreach_norm``)."""
    import torch

    return list(torch._foreach_norm(tensors))


def foreach_lerp_(tensors: List[Any], ends: List[Any], weight: float) -> None:
    """``tensors[i] += weight * (ends[i] - tensors[i])`` (``torch._foreach_lerp_``)."""
    import torch

    torch._foreach_lerp_(tensors, ends, weight)


def fused_adam_(
    params: List[Any], grads: List[Any], mom1: List[Any], mom2: List[Any], steps: List[Any], **hyper: Any
) -> None:
    """torch's fused Adam kernel (``torch._fused_adam_``, what ``torch.optim.Adam(fused=True)``
    calls): updates ``params``, ``mom1`` and ``mom2`` in place; no max_exp_avg_sqs (no AMSGrad)."""
    import torch

    torch._fused_adam_(params, grads, mom1, mom2, [], steps, **hyper)


def fused_adamw_(
    params: List[Any], grads: List[Any], mom1: List[Any], mom2: List[Any], steps: List[Any], **hyper: Any
) -> None:
    """torch's fused AdamW kernel (``torch._fused_adamw_``, what ``torch.optim.AdamW(fused=True)``
    calls): ``params *= 1 - lr * weight_decay``, then Adam's update, in the same pass."""
    import torch

    torch._fused_adamw_(params, grads, mom1, mom2, [], steps, **hyper)


# ---------------------------------------------------------------------------- spaCy's parser and pipes
# distill's transition update (core.distill.transitions) does what Parser.update does, with the
# teacher's action probabilities as targets; it needs the parser's own steps, which spaCy keeps
# private.


def parser_add_labels(proc: Any, docs: List[Any]) -> None:
    """Add the labels ``docs`` carry that the parser lacks (``Parser._ensure_labels_are_added``,
    which ``Parser.update`` calls first)."""
    proc._ensure_labels_are_added(docs)


def parser_gold_batch(proc: Any, examples: List[Any], max_length: int) -> Tuple[Any, Any, Any]:
    """States, golds and max moves for a batch cut into pieces of at most ``max_length`` moves
    (``Parser._init_gold_batch``: spaCy's oracle cut for long documents)."""
    return proc._init_gold_batch(examples, max_length=max_length)


def pipe_multitasks(proc: Any) -> List[Any]:
    """The auxiliary objectives a parser or tagger updates with it (``_multitasks``)."""
    return list(getattr(proc, "_multitasks", []))


def negative_label_index(proc: Any) -> int:
    """A span categorizer's column for "no label" (``SpanCategorizer._negative_label_i``)."""
    return int(proc._negative_label_i)


def peft_use_lora_layer(config: Any, base_type: type, layer_type: type) -> None:
    """Make peft wrap modules of ``base_type`` in ``layer_type`` (``LoraConfig._register_custom_module``,
    peft's documented but experimental hook for custom LoRA layers)."""
    config._register_custom_module({base_type: layer_type})
