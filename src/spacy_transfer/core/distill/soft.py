"""Soft targets: the teacher's top-k probabilities, and the student's loss against them.

For a component with a distribution over labels (per token: tagger, morphologizer, senter;
per document: textcat, textcat_multilabel; per candidate span: spancat,
spancat_singlelabel), the student's gradient on a silver example is
that of ``T² · KL(q_T ‖ p_T)`` with respect to its logits, ``T · (p_T - q_T)``, where
``p_T``/``q_T`` are the student's and the teacher's distributions softened by the
temperature ``T`` (Hinton et al., 2015). spaCy's softmax layers take the gradient of their
logits in backprop (their own loss passes ``p - truth``), so at ``T = 1`` this is spaCy's
cross-entropy with the teacher's distribution in place of the one-hot gold label.
Exclusive distributions are renormalised over the kept top-k labels; multi-label
probabilities are independent (a label outside the top k counts as 0). Span categorizers
score every candidate their suggester proposes; only candidates where the teacher gives a
real label at least ``SPAN_MIN_P`` are stored (with their start and end), the others count
as "no label" (all zeros; the negative label for ``spancat_singlelabel``). The student's
candidates are matched to the teacher's by (start, end) and get the same KL gradient on
their logits (softmax for ``spancat_singlelabel``, sigmoid per label for ``spancat``).
Gold examples (no soft targets) keep the component's own loss. The parser and ner get the
teacher's action distribution at each state (``transitions.py``). Everything else is a hard
target: the teacher's predictions are the student's training annotations.

:func:`soft_losses` gives each such component's loss as a function, and :func:`soft_updates`
its update with that loss; :mod:`.objective` calls them from the training loop's seam. The
components themselves are never modified.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example, validate_examples
from thinc.api import set_dropout_rate

from ..upstream import negative_label_index

SOFT_KEY = "spacy_transfer.distill"
TOKEN_LEVEL = ("tagger", "morphologizer", "senter")
DOC_LEVEL = ("textcat", "textcat_multilabel")
SPAN_LEVEL = ("spancat", "spancat_singlelabel")
SOFT_COMPONENTS = TOKEN_LEVEL + DOC_LEVEL + SPAN_LEVEL  # a distribution over labels
TRANSITION_LEVEL = ("parser", "ner")  # a distribution over actions per state: transitions.py
OUTPUT_FLOOR = 1e-6
SPAN_MIN_P = 0.01  # a candidate whose real labels all score below this is stored as "no label"
EPS = 1e-8


def as_probabilities(scores: numpy.ndarray, multilabel: bool) -> numpy.ndarray:
    """Probabilities from a component's scores: taggers built with ``normalize = false``
    give logits at prediction time; softmax them (multi-label scores are probabilities)."""
    scores = numpy.asarray(scores, dtype="float32")
    if multilabel or scores.size == 0:
        return scores
    if scores.min() >= 0 and numpy.allclose(scores.sum(axis=-1), 1.0, atol=1e-3):
        return scores
    shifted = numpy.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def top_k(probs: numpy.ndarray, k: int) -> Dict[str, numpy.ndarray]:
    """The ``k`` most probable labels of each row: indices (int32) and probabilities (float16)."""
    k = max(1, min(k, probs.shape[-1]))
    if probs.shape[0] == 0:
        return {"i": numpy.zeros((0, k), dtype="int32"), "p": numpy.zeros((0, k), dtype="float16")}
    idx = numpy.argsort(-probs, axis=-1, kind="stable")[:, :k].astype("int32")
    return {"i": idx, "p": numpy.take_along_axis(probs, idx, axis=-1).astype("float16")}


def soften(p: Any, T: float, multilabel: bool, xp: Any) -> Any:
    """``p`` at temperature ``T``: softmax(log p / T) per row, or sigmoid(logit(p) / T)."""
    if T == 1.0:
        return p
    if multilabel:
        p = xp.clip(p, EPS, 1 - EPS)
        return 1.0 / (1.0 + ((1 - p) / p) ** (1.0 / T))
    w = xp.clip(p, EPS, 1.0) ** (1.0 / T)
    return w / w.sum(axis=-1, keepdims=True)


def target(
    soft: Dict[str, Any], mapping: numpy.ndarray, n_labels: int, T: float, multilabel: bool, xp: Any
) -> Any:
    """The teacher's softened distribution over the student's labels, rows as the student's scores."""
    idx, p = numpy.asarray(soft["i"]), numpy.asarray(soft["p"], dtype="float32")
    q = numpy.zeros((idx.shape[0], n_labels), dtype="float32")
    cols = mapping[idx]
    rows = numpy.repeat(numpy.arange(idx.shape[0])[:, None], idx.shape[1], axis=1)
    keep = cols >= 0
    if multilabel:
        q[rows[keep], cols[keep]] = p[keep]
        return xp.asarray(soften(q, T, True, numpy)) if T != 1.0 else xp.asarray(q)
    q[rows[keep], cols[keep]] = numpy.clip(p[keep], EPS, 1.0) ** (1.0 / T)
    total = q.sum(axis=-1, keepdims=True)
    return xp.asarray(q / numpy.where(total > 0, total, 1.0))


def soft_gradient(scores: Any, q: Any, T: float, multilabel: bool, xp: Any) -> Tuple[float, Any]:
    """``T² · KL(q ‖ p_T)`` (summed) and its gradient ``T · (p_T - q)`` with respect to the logits."""
    p_T = soften(scores, T, multilabel, xp)
    if multilabel:
        pc, qc = xp.clip(p_T, EPS, 1 - EPS), xp.clip(q, EPS, 1 - EPS)
        kl = q * xp.log(qc / pc) + (1 - q) * xp.log((1 - qc) / (1 - pc))
    else:
        kl = q * (xp.log(xp.clip(q, EPS, 1.0)) - xp.log(xp.clip(p_T, EPS, 1.0)))
    return float(T * T * kl.sum()), (T * (p_T - q)).astype("float32")


def output_adapter(model: Any) -> Callable[[Any, Any, Any], Any]:
    """What to pass the component's output layer so that its logits receive ``d``.

    thinc's ``Softmax`` takes the logits' gradient as it is; ``Logistic`` multiplies by
    ``p(1 - p)`` and ``softmax_activation`` by the softmax Jacobian ``diag(p) - p pᵀ``, so
    ``d / p(1 - p)`` and ``d / p`` undo them (the latter as ``d`` sums to 0 over a row).
    Probabilities are floored where the layer saturates (its own backprop ends near 0 there)."""
    layer = model
    while layer.layers:
        layer = layer.layers[-1]
    if layer.name in ("logistic", "sigmoid_activation"):
        return lambda d, p, xp: d / xp.clip(p * (1 - p), OUTPUT_FLOOR, None)
    if layer.name == "softmax_activation":
        return lambda d, p, xp: d / xp.clip(p, OUTPUT_FLOOR, None)
    return lambda d, p, xp: d


def _mapping(teacher_labels: Sequence[str], student_labels: Sequence[str]) -> numpy.ndarray:
    index = {label: i for i, label in enumerate(student_labels)}
    return numpy.asarray([index.get(label, -1) for label in teacher_labels], dtype="int64")


def soft_targets_of(eg: Example, name: str) -> Optional[Dict[str, Any]]:
    return (eg.reference.user_data.get(SOFT_KEY) or {}).get(name)


SoftLoss = Callable[[List[Example], Any], Tuple[float, Any]]
ComponentUpdate = Callable[..., None]


def _token_loss(proc: Any, mapping: numpy.ndarray, T: float) -> SoftLoss:
    adapt, own = output_adapter(proc.model), proc.get_loss

    def loss_of(examples: List[Example], scores: List[Any]) -> Tuple[float, List[Any]]:
        xp = proc.model.ops.xp
        loss, grads = 0.0, []
        for eg, s in zip(examples, scores):
            soft = soft_targets_of(eg, proc.name)
            if soft is None or numpy.asarray(soft["i"]).shape[0] != s.shape[0]:
                gold_loss, gold_grads = own([eg], [s])  # gold data: the component's own loss
                loss, grads = loss + float(gold_loss), grads + list(gold_grads)
                continue
            q = target(soft, mapping, s.shape[1], T, False, xp)
            kl, d = soft_gradient(s, q, T, False, xp)
            d = adapt(d, s, xp)
            loss, grads = loss + kl, grads + [d]
        return loss, grads

    return loss_of


def _doc_loss(proc: Any, mapping: numpy.ndarray, T: float, multilabel: bool) -> SoftLoss:
    adapt, own = output_adapter(proc.model), proc.get_loss

    def loss_of(examples: List[Example], scores: Any) -> Tuple[float, Any]:
        xp = proc.model.ops.xp
        loss, grads = own(examples, scores)  # gold rows keep the component's own gradient
        grads = grads.copy()
        for row, eg in enumerate(examples):
            soft = soft_targets_of(eg, proc.name)
            if soft is None:
                continue
            q = target(soft, mapping, scores.shape[1], T, multilabel, xp)
            kl, d = soft_gradient(scores[row : row + 1], q, T, multilabel, xp)
            d = adapt(d, scores[row : row + 1], xp)
            grads[row] = d[0]
            loss += kl
        return float(loss), grads

    return loss_of


def span_targets(starts_ends: Any, probs: Any, n_real: int, n_cols: int, k: int) -> Dict[str, numpy.ndarray]:
    """The teacher's candidates in one doc worth storing: those with a real label at
    ``SPAN_MIN_P`` or more, as start/end (int32) and their top-k over every column."""
    starts_ends = numpy.asarray(starts_ends, dtype="int32").reshape((-1, 2))
    probs = numpy.asarray(probs, dtype="float32").reshape((starts_ends.shape[0], n_cols))
    keep = probs[:, :n_real].max(axis=1, initial=0.0) >= SPAN_MIN_P
    return {"s": starts_ends[keep], **top_k(probs[keep], k)}


def span_row_targets(
    soft: Dict[str, Any],
    spans: numpy.ndarray,
    mapping: numpy.ndarray,
    n_cols: int,
    T: float,
    negative: Optional[int],
) -> numpy.ndarray:
    """The target for each of the student's candidate ``spans`` (rows of start, end) in one doc."""
    q = numpy.zeros((spans.shape[0], n_cols), dtype="float32")
    if negative is not None:
        q[:, negative] = 1.0  # a candidate the teacher did not store has no label
    stored = {(a, b): j for j, (a, b) in enumerate(numpy.asarray(soft["s"]).reshape((-1, 2)).tolist())}
    pairs = [(row, stored[key]) for row, key in enumerate(map(tuple, spans.tolist())) if key in stored]
    if pairs:
        rows, js = (numpy.asarray(x) for x in zip(*pairs))
        picked = {"i": numpy.asarray(soft["i"])[js], "p": numpy.asarray(soft["p"])[js]}
        q[rows] = target(picked, mapping, n_cols, T, negative is None, numpy)
    return q


def _span_loss(proc: Any, mapping: numpy.ndarray, T: float) -> SoftLoss:
    adapt, own = output_adapter(proc.model), proc.get_loss
    # spancat_singlelabel's "no label" column; None for spancat
    negative = negative_label_index(proc) if proc.add_negative_label else None

    def loss_of(examples: List[Example], spans_scores: Tuple[Any, Any]) -> Tuple[float, Any]:
        spans, scores = spans_scores
        loss, grads = own(examples, spans_scores)  # gold docs' rows keep the component's own gradient
        ops, xp = proc.model.ops, proc.model.ops.xp
        data, lengths = ops.to_numpy(spans.data).reshape((-1, 2)), ops.to_numpy(spans.lengths)
        grads, offset = grads.copy(), 0
        for eg, n in zip(examples, lengths):
            soft, rows = soft_targets_of(eg, proc.name), slice(offset, offset + int(n))
            offset += int(n)
            if soft is None or not n:
                continue
            q = span_row_targets(soft, data[rows], mapping, scores.shape[1], T, negative)
            kl, d = soft_gradient(scores[rows], xp.asarray(q), T, negative is None, xp)
            d = adapt(d, scores[rows], xp)
            loss += kl - float((grads[rows] ** 2).sum())  # the rows' own squared error out, the KL in
            grads[rows] = d
        return float(loss), grads

    return loss_of


def soft_losses(
    nlp: Language, teacher_labels: Dict[str, List[str]], temperature: float
) -> Dict[str, SoftLoss]:
    """The distillation loss of each of the student's soft-target components (a component
    with a distribution over labels that the teacher annotated): ``loss(examples, scores)``
    as the component's own ``get_loss``, the KL gradient on silver examples."""
    found: Dict[str, SoftLoss] = {}
    for name, proc in nlp.pipeline:
        factory = nlp.get_pipe_meta(name).factory
        if factory not in SOFT_COMPONENTS or name not in teacher_labels:
            continue
        mapping = _mapping(teacher_labels[name], list(proc.labels))
        if factory in TOKEN_LEVEL:
            found[name] = _token_loss(proc, mapping, temperature)
        elif factory in SPAN_LEVEL:
            if proc.add_negative_label:  # the teacher's column after its labels is its negative label
                mapping = numpy.append(mapping, negative_label_index(proc))
            found[name] = _span_loss(proc, mapping, temperature)
        else:
            found[name] = _doc_loss(proc, mapping, temperature, factory == "textcat_multilabel")
    return found


def _docs(proc: Any, examples: List[Example]) -> Optional[List[Doc]]:
    docs = [eg.predicted for eg in examples]
    return docs if any(len(doc) for doc in docs) else None


def _docs_and_spans(proc: Any, examples: List[Example]) -> Optional[Tuple[List[Doc], Any]]:
    docs = _docs(proc, examples)
    if docs is None:
        return None
    spans = proc.suggester(docs, ops=proc.model.ops)
    return (docs, spans) if int(spans.lengths.sum()) else None


def soft_update(proc: Any, loss_of: SoftLoss, spans: bool) -> ComponentUpdate:
    """The component's own update (as spaCy 3.8's Tagger, TextCategorizer and SpanCategorizer
    do it) with ``loss_of`` in place of its ``get_loss``; the optimizer step is the caller's."""
    inputs = _docs_and_spans if spans else _docs

    def update(examples: List[Example], *, drop: float, losses: Dict[str, float]) -> None:
        losses.setdefault(proc.name, 0.0)
        validate_examples(examples, f"{type(proc).__name__}.update")
        X = inputs(proc, examples)
        if X is None:  # no tokens (or no candidate spans) in the whole batch
            return
        set_dropout_rate(proc.model, drop)
        scores, backprop = proc.model.begin_update(X)
        loss, d_scores = loss_of(examples, (X[1], scores) if spans else scores)
        backprop(d_scores)
        losses[proc.name] += loss

    return update


def soft_updates(
    nlp: Language, teacher_labels: Dict[str, List[str]], temperature: float
) -> Dict[str, ComponentUpdate]:
    """:func:`soft_update` for each component of :func:`soft_losses`."""
    return {
        name: soft_update(nlp.get_pipe(name), loss_of, nlp.get_pipe_meta(name).factory in SPAN_LEVEL)
        for name, loss_of in soft_losses(nlp, teacher_labels, temperature).items()
    }
