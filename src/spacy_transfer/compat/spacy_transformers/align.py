"""spacy-transformers' ``align`` module (its Cython code), reimplemented on
``spacy_transfer.compat.alignment.align_tokens_st`` (its rule, vectorized)."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy
from spacy.tokens import Span, Token
from thinc.api import Ops
from thinc.types import Floats2d, Ragged

from spacy_transfer.compat.alignment import align_tokens_st


def apply_alignment(ops: Ops, align: Ragged, X: Floats2d) -> Tuple[Ragged, Callable]:
    """Rows of ``X`` per token (``X[align.dataXd]``), and the backward pass (scatter-add)."""
    shape = X.shape
    if not int(align.lengths.sum()):
        Y = Ragged(ops.alloc2f(align.lengths.shape[0], shape[1]), ops.alloc1i(align.lengths.shape[0]) + 1)
        return Y, lambda dY: ops.alloc2f(*shape)
    indices = align.dataXd
    Y = Ragged(X[indices], ops.asarray1i(align.lengths))

    def backprop(dY: Ragged) -> Floats2d:
        dX = ops.alloc2f(*shape)
        ops.scatter_add(dX, indices, dY.dataXd)
        return dX

    return Y, backprop


def get_token_positions(spans: List[Span]) -> Dict[Token, int]:
    """Each token of the spans' Docs, numbered in Doc order (every Doc once)."""
    positions: Dict[Token, int] = {}
    seen = set()
    for span in spans:
        if id(span.doc) in seen:
            continue
        seen.add(id(span.doc))
        for token in span.doc:
            positions.setdefault(token, len(positions))
    return positions


def get_span2wp_from_offset_mapping(span: Span, wp_char_offsets: Any) -> List[List[int]]:
    """Per token of ``span``, the wordpieces (rows of ``wp_char_offsets``, character offsets
    relative to the span) that own one of its characters, in ascending order."""
    offsets = numpy.asarray(wp_char_offsets, dtype="int64").reshape((-1, 2))
    special = offsets[:, 1] <= offsets[:, 0]
    starts = numpy.asarray([t.idx - span.start_char for t in span], dtype="int64")
    ends = starts + numpy.asarray([len(t) for t in span], dtype="int64")
    tok_idx, wp = align_tokens_st(offsets, special, starts, ends)
    rows: List[set] = [set() for _ in range(len(span))]
    for i, j in zip(tok_idx.tolist(), wp.tolist()):
        rows[i].add(j)
    return [sorted(r) for r in rows]


def get_alignment_via_offset_mapping(spans: List[Span], offset_mapping: Any) -> Ragged:
    """Per token, the indices into the flattened (spans x padded length) wordpieces that own
    one of its characters (spacy-transformers' rule: whitespace tokens get none).
    ``offset_mapping`` is (spans, padded length, 2)."""
    if len(spans) != len(offset_mapping):
        raise ValueError("Cannot align batches of different sizes.")
    positions = get_token_positions(spans)
    rows: List[set] = [set() for _ in positions]
    wp_start = 0
    for span, offsets in zip(spans, offset_mapping):
        offsets = numpy.asarray(offsets, dtype="int64").reshape((-1, 2))
        for token, pieces in zip(span, get_span2wp_from_offset_mapping(span, offsets)):
            rows[positions[token]].update(wp_start + j for j in pieces)
        wp_start += offsets.shape[0]
    flat = [j for r in rows for j in sorted(r)]
    return Ragged(numpy.asarray(flat, dtype="i"), numpy.asarray([len(r) for r in rows], dtype="i"))


_MARKERS = ("##", "Ġ", "▁", "Ċ")


def get_alignment(
    spans: List[Span], wordpieces: List[List[str]], special_tokens: Optional[List[str]] = None
) -> Ragged:
    """The same alignment from wordpiece strings (for slow tokenizers without offsets):
    strings are matched to tokens character by character with spaCy's ``Alignment``."""
    from spacy.training import Alignment

    special = set(special_tokens or [])
    positions = get_token_positions(spans)
    rows: List[set] = [set() for _ in positions]
    wp_start = 0
    for span, pieces in zip(spans, wordpieces):
        keep = [j for j, p in enumerate(pieces) if p not in special and _clean(p)]
        if keep and len(span):
            align = Alignment.from_strings([t.text for t in span], [_clean(pieces[j]) for j in keep])
            for i, lengths in enumerate(align.x2y.lengths):
                start = int(align.x2y.lengths[:i].sum())
                for k in align.x2y.data[start : start + int(lengths)]:
                    rows[positions[span[i]]].add(wp_start + keep[int(k)])
        wp_start += len(pieces)
    flat = [j for r in rows for j in sorted(r)]
    return Ragged(numpy.asarray(flat, dtype="i"), numpy.asarray([len(r) for r in rows], dtype="i"))


def _clean(piece: str) -> str:
    for marker in _MARKERS:
        piece = piece.replace(marker, "")
    return piece.strip()


__all__ = [
    "apply_alignment",
    "get_token_positions",
    "get_span2wp_from_offset_mapping",
    "get_alignment_via_offset_mapping",
    "get_alignment",
]
