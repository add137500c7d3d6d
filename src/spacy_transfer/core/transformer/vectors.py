"""Contextual vectors from the transformer: ``doc.tensor``, ``Doc/Span/Token.vector`` and
``.similarity()`` (the component's ``doc_vectors`` setting).

- ``doc.tensor``: each token's vector, the mean of the last hidden state over its aligned
  wordpieces (zeros for a token with none).
- ``Doc.vector``: the Doc's wordpieces pooled. ``mean`` averages every wordpiece the
  encoder saw, special tokens included, as sentence-transformers' mean pooling does (the
  attention mask's positions): for a Doc that fits one window it is the vector of
  ``SentenceTransformer.encode`` for a mean-pooling model. Over several windows (strided
  spans) a wordpiece that two windows share counts once (its copies averaged) and each
  window's special tokens count. ``cls`` takes the first window's first wordpiece,
  ``max`` the elementwise maximum. ``normalize`` scales the pooled vector to unit length.
- ``Span.vector``: the span's own wordpieces pooled from the Doc's pass (a slice of the
  context-aware states, not a second encoding; no special tokens; ``cls`` pools as ``mean``).
- ``Token.vector``: its row of ``doc.tensor``. ``similarity``: the cosine of the vectors.

The hooks read what the component stored on the Doc (``doc.tensor``, ``doc._.trf_data``
and the pooled vector in ``user_data``); spaCy drops hooks when it rebuilds a Doc from
bytes (``Doc.from_bytes``, ``nlp.pipe(n_process=N)``), where its own fallbacks take over:
tokens and spans read ``doc.tensor``, and ``Doc.vector`` becomes the mean of the token
vectors (``doc.user_data`` still holds the pooled one: :func:`restore_hooks` puts the hooks back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

import numpy
from spacy.tokens import Doc, Span, Token

from ...errors import UserError

POOLINGS = ("mean", "cls", "max")
USER_DATA_KEY = "spacy_transfer.doc_vectors"


@dataclass(frozen=True)
class VectorSettings:
    pooling: str = "mean"
    normalize: bool = False


def vector_settings(enabled: bool, pooling: str, normalize: bool, where: str) -> Optional[VectorSettings]:
    """The component's ``doc_vectors``, ``vector_pooling`` and ``normalize_vectors`` settings
    (three flat keys, so ``spacy.load(path, config=...)`` can set each)."""
    if pooling not in POOLINGS:
        raise UserError(
            f"Unknown vector_pooling {pooling!r}",
            rows=[(f"{where} vector_pooling", repr(pooling)), ("choices", ", ".join(POOLINGS))],
            hint='Use vector_pooling = "mean" (sentence-transformers\' pooling), "cls" or "max".',
        )
    if not isinstance(enabled, bool):
        raise UserError(
            f"doc_vectors must be true or false, got {enabled!r}",
            rows=[(f"{where} doc_vectors", repr(enabled))],
            hint="Set doc_vectors = true, and vector_pooling / normalize_vectors for the pooling.",
        )
    return VectorSettings(pooling, bool(normalize)) if enabled else None


# ---------------------------------------------------------------------------- pooling


def _host(array: Any) -> numpy.ndarray:
    return array.get() if hasattr(array, "get") else numpy.asarray(array)


def _rows(data: Any) -> numpy.ndarray:
    """The last hidden state as ``(spans * padded length, width)`` host rows, what ``align`` indexes."""
    lhs = _host(data.model_output.last_hidden_state)
    return lhs.reshape((-1, lhs.shape[-1])).astype("float32", copy=False)


def row_weights(data: Any, n_tokens: int) -> numpy.ndarray:
    """A weight per flattened wordpiece row: 0 for padding, 1 for a wordpiece the encoder saw,
    1/k for a token's wordpiece that k windows hold (so each wordpiece counts once)."""
    n_spans, padded = data.model_output.last_hidden_state.shape[:2]
    weights = numpy.zeros((n_spans * padded,), dtype="float32")
    for j, length in enumerate(data.wordpieces.lengths):
        weights[j * padded : j * padded + int(length)] = 1.0
    rows, lengths = _host(data.align.dataXd).ravel(), _host(data.align.lengths)
    if n_spans > 1 and rows.size:
        token_of = numpy.repeat(numpy.arange(n_tokens), lengths)
        windows = numpy.zeros((n_tokens,), dtype="float32")
        pairs = numpy.unique(numpy.stack([token_of, rows // padded]), axis=1)
        numpy.add.at(windows, pairs[0], 1.0)
        weights[rows] = 1.0 / numpy.maximum(windows[token_of], 1.0)
    return weights


def pool(rows: numpy.ndarray, weights: numpy.ndarray, pooling: str) -> numpy.ndarray:
    """``rows`` pooled by ``pooling`` over the rows with a positive weight."""
    seen = weights > 0
    if not seen.any():
        return numpy.zeros((rows.shape[1],), dtype="float32")
    if pooling == "max":
        return rows[seen].max(axis=0)
    if pooling == "cls":
        return rows[int(numpy.argmax(seen))].copy()
    return (rows[seen] * weights[seen, None]).sum(axis=0) / weights[seen].sum()


def _finish(vector: numpy.ndarray, settings: VectorSettings) -> numpy.ndarray:
    if settings.normalize:
        norm = float(numpy.linalg.norm(vector))
        if norm > 0:
            vector = vector / norm
    return vector.astype("float32", copy=False)


def token_vectors(data: Any, rows: numpy.ndarray, n_tokens: int) -> numpy.ndarray:
    """``(n_tokens, width)``: each token's aligned wordpiece ``rows`` averaged (zeros where none)."""
    out = numpy.zeros((n_tokens, rows.shape[1]), dtype="float32")
    index, lengths = _host(data.align.dataXd).ravel(), _host(data.align.lengths)
    if index.size:
        token_of = numpy.repeat(numpy.arange(n_tokens), lengths)
        numpy.add.at(out, token_of, rows[index])
        out /= numpy.maximum(lengths, 1)[:, None]
    return out


def span_vector(data: Any, n_tokens: int, start: int, end: int, settings: VectorSettings) -> numpy.ndarray:
    """The span's own wordpieces (those aligned to its tokens) pooled; ``cls`` pools as mean."""
    if not data.tensors:
        return numpy.zeros((0,), dtype="float32")
    rows, lengths = _host(data.align.dataXd).ravel(), _host(data.align.lengths)
    offsets = numpy.concatenate([[0], numpy.cumsum(lengths)])
    mine = numpy.unique(rows[offsets[start] : offsets[end]])
    every = row_weights(data, n_tokens)
    weights = numpy.zeros_like(every)
    weights[mine] = every[mine]
    pooling = "mean" if settings.pooling == "cls" else settings.pooling
    return _finish(pool(_rows(data), weights, pooling), settings)


# ---------------------------------------------------------------------------- on the Doc


def set_vectors(doc: Doc, data: Any, settings: VectorSettings) -> None:
    """``doc.tensor``, the pooled vector and the hooks that serve them."""
    if not data.tensors:
        return  # an empty Doc: nothing to pool
    if "last_hidden_state" not in data.model_output:
        raise UserError(
            "doc_vectors = true, but this component's model gives no last hidden state to pool",
            rows=[("model outputs", ", ".join(data.model_output.keys()) or "none")],
            hint="doc_vectors needs a transformer encoder (spacy-transfer.TransformerModel.v1 or "
            "spacy-transformers.TransformerModel.v3); turn it off for this component.",
        )
    rows = _rows(data)
    doc.tensor = token_vectors(data, rows, len(doc))
    doc.user_data[USER_DATA_KEY] = {
        "vector": _finish(pool(rows, row_weights(data, len(doc)), settings.pooling), settings),
        "pooling": settings.pooling,
        "normalize": settings.normalize,
    }
    restore_hooks(doc)


def restore_hooks(doc: Doc) -> bool:
    """Install the vector hooks on a Doc that holds the stored vectors (e.g. one rebuilt from
    bytes); returns whether it did."""
    if USER_DATA_KEY not in doc.user_data:
        return False
    doc.user_hooks["vector"] = _doc_vector
    doc.user_hooks["similarity"] = _cosine
    doc.user_span_hooks["vector"] = _span_vector
    doc.user_span_hooks["similarity"] = _cosine
    doc.user_token_hooks["vector"] = _token_vector
    doc.user_token_hooks["similarity"] = _cosine
    return True


def _stored(doc: Doc) -> Dict[str, Any]:
    return doc.user_data[USER_DATA_KEY]


def _doc_vector(doc: Doc) -> numpy.ndarray:
    return numpy.asarray(_stored(doc)["vector"], dtype="float32")


def _span_vector(span: Span) -> numpy.ndarray:
    stored, data = _stored(span.doc), span.doc._.get("trf_data")
    if data is None:  # the Doc came back from bytes without its trf_data: the tokens' mean
        return span.doc.tensor[span.start : span.end].mean(axis=0)
    settings = VectorSettings(stored["pooling"], stored["normalize"])
    return span_vector(data, len(span.doc), span.start, span.end, settings)


def _token_vector(token: Token) -> numpy.ndarray:
    return token.doc.tensor[token.i]


def _cosine(a: Any, b: Any) -> float:
    x, y = numpy.asarray(a.vector, dtype="float32"), numpy.asarray(b.vector, dtype="float32")
    norm = float(numpy.linalg.norm(x) * numpy.linalg.norm(y))
    return float(x @ y) / norm if norm else 0.0


__all__ = [
    "POOLINGS",
    "VectorSettings",
    "vector_settings",
    "token_vectors",
    "span_vector",
    "set_vectors",
    "restore_hooks",
]
