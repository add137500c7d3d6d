"""The all-layers listener: a learned mix of every hidden state of the encoder (ELMo's scalar
mix), ``spacy-transfer.AllLayersListener.v1``.

``mixed = gamma * sum_l softmax(w)_l * h_l`` over the embeddings' output and each layer's
(``hidden_states``; the transformer must return them: ``output_hidden_states = true`` in
its ``transformer_config``). ``w`` starts at zero (an even mix) and ``gamma`` at one.

Why it is cheap: the mix sends back one gradient per Doc, for the mixed state, with the
mix's coefficients (:class:`LayerMixGrad`), not one per layer. The shim turns it into the
encoder's gradient by back-propagating ``sum_l c_l * h_l`` of each forward pass, so no
per-layer gradient is ever materialised outside autograd and the hidden states live no
longer than the backward pass, as the last hidden state does.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple

from thinc.api import Model

from ...errors import UserError
from .data import TransformerData, model_output

HIDDEN_STATES_HINT = (
    "Set output_hidden_states = true in [components.transformer.model.transformer_config] "
    "(the transformer the listener reads), or use spacy-transfer.TransformerListener.v1."
)


class LayerMixGrad:
    """One Doc's gradient: ``plain`` w.r.t. its last hidden state (or None) and, per mix,
    ``(coefficients, gradient)`` w.r.t. ``sum_l coefficients[l] * hidden_states[l]``."""

    __slots__ = ("plain", "mixes")
    __array_ufunc__ = None  # array + LayerMixGrad comes here (__radd__), not through numpy

    def __init__(self, plain: Any = None, mixes: Sequence[Tuple[Tuple[float, ...], Any]] = ()) -> None:
        self.plain = plain
        self.mixes = tuple(mixes)

    def __add__(self, other: Any) -> "LayerMixGrad":
        if other is None:
            return self
        if not isinstance(other, LayerMixGrad):
            other = LayerMixGrad(plain=other)
        plain = (
            other.plain
            if self.plain is None
            else (self.plain if other.plain is None else self.plain + other.plain)
        )
        return LayerMixGrad(plain, self.mixes + other.mixes)

    __radd__ = __add__

    def squared_norm(self) -> float:
        parts = ([self.plain] if self.plain is not None else []) + [d for _, d in self.mixes]
        return sum(float((p**2).sum()) for p in parts)


def squared_norm(grad: Any) -> float:
    """The squared L2 norm of a Doc's gradient, plain array or :class:`LayerMixGrad`."""
    return grad.squared_norm() if isinstance(grad, LayerMixGrad) else float((grad**2).sum())


def split_grads(d_docs: Sequence[Any]) -> Tuple[List[Any], List[Tuple[Tuple[float, ...], List[Any]]]]:
    """Per-Doc gradients -> the plain ones, and per distinct mix its per-Doc gradients."""
    plain: List[Any] = []
    by_mix: dict = {}
    for i, g in enumerate(d_docs):
        if not isinstance(g, LayerMixGrad):
            plain.append(g)
            continue
        plain.append(g.plain)
        for coefs, d in g.mixes:
            per_doc = by_mix.setdefault(coefs, [None] * len(d_docs))
            per_doc[i] = d if per_doc[i] is None else per_doc[i] + d
    return plain, list(by_mix.items())


def scalar_mix() -> Model[List[TransformerData], List[TransformerData]]:
    """Per Doc, its data with the last hidden state replaced by the learned mix of all layers."""
    return Model("trf-scalar-mix", mix_forward, init=mix_init, params={"weights": None, "scale": None})


def mix_init(model: Model, X: Optional[List[TransformerData]] = None, Y: Any = None) -> Model:
    n = _n_states(X or [])
    if n and not model.has_param("weights"):
        _allocate(model, n)
    return model


def _allocate(model: Model, n_states: int) -> None:
    model.set_param("weights", model.ops.alloc1f(n_states))
    model.set_param("scale", model.ops.asarray1f([1.0]))


def _n_states(datas: Sequence[TransformerData]) -> int:
    for d in datas:
        states = d.model_output.get("hidden_states") if "last_hidden_state" in d.model_output else None
        if states:
            return len(states)
    return 0


def _coefficients(model: Model) -> Tuple[Any, float]:
    w = model.get_param("weights")
    e = model.ops.xp.exp(w - w.max())
    return e / e.sum(), float(model.get_param("scale")[0])


def mix_forward(
    model: Model, datas: List[TransformerData], is_train: bool
) -> Tuple[List[TransformerData], Callable]:
    n = _n_states(datas)
    present = [d for d in datas if "last_hidden_state" in d.model_output]
    if present and not n and not is_train and not model.has_param("weights"):
        # Before training: the listener's placeholder zeros (initialization), passed on.
        return datas, lambda d_docs: d_docs
    if present and not n:
        raise UserError(
            "spacy-transfer.AllLayersListener.v1 needs the hidden states of every layer, but the transformer returns only its last",
            hint=HIDDEN_STATES_HINT,
        )
    if not present:  # no Doc has outputs (all empty, or a frozen transformer's zeros)
        return datas, lambda d_docs: d_docs
    if not model.has_param("weights"):
        _allocate(model, n)
    if model.get_param("weights").shape[0] != n:
        raise UserError(
            f"The all-layers listener mixes {model.get_param('weights').shape[0]} hidden states, but the transformer returns {n}",
            hint="The listener was trained with another encoder; train it again with this one.",
        )
    probs, gamma = _coefficients(model)
    coefs = probs * gamma
    mixed = [_mix_one(d, coefs) for d in datas]

    def backprop(d_docs: Sequence[Any]) -> List[Any]:
        d_w = model.ops.alloc1f(n)
        d_gamma = 0.0
        out: List[Any] = []
        key = tuple(float(c) for c in coefs)
        for d, grad in zip(datas, d_docs):
            if grad is None or "last_hidden_state" not in d.model_output:
                out.append(None)
                continue
            states = d.model_output.hidden_states
            dots = model.ops.xp.asarray([float((h * grad).sum()) for h in states], dtype="f")  # <h_l, dY>
            d_probs = gamma * dots
            d_w += probs * (d_probs - (probs * d_probs).sum())  # softmax's Jacobian
            d_gamma += float((probs * dots).sum())
            out.append(LayerMixGrad(mixes=[(key, grad)]))
        model.inc_grad("weights", d_w)
        model.inc_grad("scale", model.ops.asarray1f([d_gamma]))
        return out

    return mixed, backprop


def _mix_one(d: TransformerData, coefs: Any) -> TransformerData:
    if "last_hidden_state" not in d.model_output:
        return d
    states = d.model_output.hidden_states
    total = states[0] * coefs[0]
    for c, h in zip(coefs[1:], states[1:]):
        total = total + h * c
    return TransformerData(
        wordpieces=d.wordpieces,
        model_output=model_output(last_hidden_state=total.astype("f", copy=False)),
        align=d.align,
        span_bounds=d.span_bounds,
        doc_ref=d.doc_ref,
    )


__all__ = ["LayerMixGrad", "scalar_mix", "squared_norm", "split_grads", "HIDDEN_STATES_HINT"]
