"""Listeners: how downstream components read the shared transformer.

``TransformerListener`` receives the transformer's per-Doc outputs and a backprop
callback from the ``transformer`` component during ``update`` (the mechanism of
spaCy's ``Tok2VecListener``); at prediction time, or when the transformer is frozen
and annotating, it reads ``doc._.trf_data``. ``pool_transformer_data`` turns each
Doc's wordpiece rows into one vector per spaCy token with a thinc reduction layer
(``reduce_mean.v1`` ...) over the aligned rows, and scales the gradient it sends back
by ``grad_factor`` (a float, a list of per-update values or a thinc schedule; 0 sends
nothing at all, so the transformer is untouched by that listener).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d, Ragged

from ...errors import UserError
from .data import DOC_EXT_ATTR, FullTransformerBatch, TransformerData, install_extensions

# Per Doc, the gradient of its ``last_hidden_state`` (same shape), or None.
DocGrads = List[Optional[Any]]


class TransformerListener(Model):
    """A layer fed by an upstream ``transformer`` component (``upstream_name`` or ``*``)."""

    name = "transformer-listener"

    def __init__(self, upstream_name: str = "*") -> None:
        Model.__init__(self, name=self.name, forward=listener_forward, dims={"nO": None})
        self.upstream_name = upstream_name
        self._batch_id: Optional[int] = None
        self._outputs: Optional[List[TransformerData]] = None
        self._backprop: Optional[Callable[[DocGrads], Any]] = None

    @classmethod
    def get_batch_id(cls, inputs: Sequence[Doc]) -> int:
        return sum(sum(token.orth for token in doc) for doc in inputs)

    def receive(
        self, batch_id: int, outputs: List[TransformerData], backprop: Callable[[DocGrads], Any]
    ) -> None:
        self._batch_id = batch_id
        self._outputs = outputs
        self._backprop = backprop

    def verify_inputs(self, inputs: Sequence[Doc]) -> bool:
        """True if the outputs it holds are for ``inputs``; ValueError otherwise (as in
        spacy-transformers and spaCy's Tok2VecListener)."""
        if self._batch_id is None and self._outputs is None:
            raise ValueError("The listener holds no outputs: its transformer has not run on a batch yet")
        batch_id = self.get_batch_id(inputs)
        if batch_id != self._batch_id:
            raise ValueError(f"Mismatched IDs! {batch_id} vs {self._batch_id}")
        return True

    def backprop_and_clear(self, d_docs: DocGrads) -> Any:
        result = self._backprop(d_docs) if self._backprop is not None else None
        self.clear()
        return result

    def clear(self) -> None:
        self._batch_id = None
        self._outputs = None
        self._backprop = None


def _from_docs(docs: Sequence[Doc]) -> Optional[List[TransformerData]]:
    install_extensions()
    data = [doc._.get(DOC_EXT_ATTR) for doc in docs]
    return data if all(d is not None for d in data) else None  # type: ignore[return-value]


def _no_backprop(d_docs: DocGrads) -> List[Doc]:
    return []


def listener_forward(
    model: TransformerListener, docs: List[Doc], is_train: bool
) -> Tuple[List[TransformerData], Callable]:
    if is_train:
        if model._batch_id is not None:
            if model.get_batch_id(docs) == model._batch_id:
                return model._outputs, model.backprop_and_clear  # type: ignore[return-value]
            stale = True
        else:
            stale = False
        annotated = _from_docs(docs)
        if annotated is not None:  # a frozen transformer in annotating_components
            model.clear()
            return annotated, _no_backprop
        if stale:
            raise UserError(
                "A transformer listener received outputs for a different batch than it is asked to process (spaCy E953)",
                hint="Each listener must run on the same Docs as its transformer in one nlp.update call. "
                "If several components share the transformer, train them together; if one is frozen, add "
                "the transformer to [training] annotating_components.",
            )
        raise UserError(
            "A transformer listener got no input from an upstream transformer component (spaCy E954)",
            hint="Put a 'transformer' component before this one in [nlp] pipeline (listeners with upstream = \"*\" "
            "find it), or, if the transformer is in [training] frozen_components, also list it in "
            "[training] annotating_components so it sets doc._.trf_data.",
        )
    data = _from_docs(docs) if docs else []
    if data is not None:
        return data, _no_backprop
    width = model.get_dim("nO") if model.has_dim("nO") else None
    if width is None:
        raise UserError(
            "A transformer listener has no width: its transformer was not initialized",
            hint="Call nlp.initialize() (or load a trained pipeline) before using the pipeline.",
        )
    install_extensions()
    out = [doc._.get(DOC_EXT_ATTR) or TransformerData.zeros(len(doc), width, xp=model.ops.xp) for doc in docs]
    return out, _no_backprop


class GradFactor:
    """Current gradient factor: a constant, a list (one value per update, last repeats) or a schedule."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.step = 0

    def next(self) -> float:
        v = self.value
        self.step += 1
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, (list, tuple)):
            return float(v[min(self.step - 1, len(v) - 1)])
        if isinstance(v, Iterator):
            return float(next(v))
        if callable(v):
            return float(v(self.step - 1))
        raise UserError(f"grad_factor must be a number or a schedule, not {type(v).__name__}")


def pool_transformer_data(
    pooling: Model[Ragged, Floats2d], grad_factor: Any = 1.0
) -> Model[List[TransformerData], List[Floats2d]]:
    """One vector per token: ``pooling`` over each token's aligned rows of ``tensors[0]``
    (the last hidden state), as spacy-transformers' ``trfs2arrays``."""
    return Model(
        "trf-pool",
        pool_forward,
        layers=[pooling],
        attrs={"grad_factor": GradFactor(grad_factor)},
        dims={"nO": None},
        init=pool_init,
    )


def pool_init(model: Model, X: Optional[List[TransformerData]] = None, Y: Any = None) -> Model:
    if X:
        width = _batch_width(X, 0)
        if width:
            model.set_dim("nO", width, force=True)
        model.layers[0].initialize(X=_gather(model, X, width))
    return model


def _batch_width(datas: Sequence[TransformerData], default: int) -> int:
    """The width of the first Doc that has outputs (a Doc without spans has none)."""
    return next((d.width for d in datas if "last_hidden_state" in d.model_output), default)


def _rows(data: TransformerData) -> Any:
    """The rows ``align`` points into (a Doc without spans has none)."""
    if "last_hidden_state" not in data.model_output:
        return None
    return data.flat_hidden()


def _gather(model: Model, datas: Sequence[TransformerData], width: int) -> Ragged:
    ops = model.ops
    parts, lengths = [], []
    for d in datas:
        rows = _rows(d)
        idx = d.align.dataXd
        parts.append(rows[idx] if rows is not None and idx.shape[0] else ops.alloc2f(0, width))
        lengths.append(d.align.lengths)
    data = ops.xp.concatenate(parts) if len(parts) > 1 else (parts[0] if parts else ops.alloc2f(0, width))
    lens = ops.xp.concatenate(lengths) if len(lengths) > 1 else (lengths[0] if lengths else ops.alloc1i(0))
    return Ragged(ops.asarray2f(data), ops.asarray1i(lens))


def pool_forward(
    model: Model, datas: List[TransformerData], is_train: bool
) -> Tuple[List[Floats2d], Callable]:
    pooling = model.layers[0]
    if not datas:
        return [], lambda d: []
    for d in datas:
        if not isinstance(d, TransformerData):
            raise UserError(
                f"A transformer listener expected TransformerData in doc._.trf_data, got {type(d).__name__}",
                hint="Put a transformer component (spacy-transfer.TransformerModel.v1 or a spacy-transformers name) before this one.",
            )
    width = _batch_width(datas, model.get_dim("nO") if model.has_dim("nO") else 0)
    X = _gather(model, datas, width)
    Y, bp_pool = pooling(X, is_train)
    n_tokens = [int(d.align.lengths.shape[0]) for d in datas]
    outputs = model.ops.xp.split(Y, numpy.cumsum(n_tokens)[:-1].tolist()) if len(datas) > 1 else [Y]

    def backprop(dYs: List[Floats2d]) -> DocGrads:
        if not isinstance(model.attrs["grad_factor"], GradFactor):  # read from a spacy-transformers pipeline
            model.attrs["grad_factor"] = GradFactor(model.attrs["grad_factor"])
        factor = model.attrs["grad_factor"].next()
        if factor == 0.0:
            return [None] * len(datas)
        dX = bp_pool(model.ops.xp.concatenate(dYs) if len(dYs) > 1 else dYs[0])
        d_rows_all = dX.dataXd * factor if factor != 1.0 else dX.dataXd
        grads: DocGrads = []
        start = 0
        for d in datas:
            n = int(d.align.dataXd.shape[0])
            rows = _rows(d)
            if rows is None:
                grads.append(None)
                continue
            target = model.ops.alloc2f(*rows.shape)
            if n:
                model.ops.scatter_add(
                    target, model.ops.asarray1i(d.align.dataXd), d_rows_all[start : start + n]
                )
            start += n
            grads.append(target.reshape(d.model_output.last_hidden_state.shape))
        return grads

    return list(outputs), backprop


def split_trf_batch() -> Model[FullTransformerBatch, List[TransformerData]]:
    """FullTransformerBatch -> its per-Doc data (gradients pass through unchanged)."""
    return Model("split-trf-batch", _split_forward)


def _split_forward(
    model: Model, batch: FullTransformerBatch, is_train: bool
) -> Tuple[List[TransformerData], Callable]:
    return list(batch.doc_data), lambda d_docs: d_docs


__all__ = [
    "TransformerListener",
    "pool_transformer_data",
    "split_trf_batch",
    "GradFactor",
    "listener_forward",
]
