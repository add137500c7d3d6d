"""Wordpieces for spans, exact token <-> wordpiece alignment, and overlapping windows.

The fast tokenizer's offset mappings give every wordpiece its character range in the
span text; a spaCy token is aligned to every wordpiece whose range overlaps its own.
That is exact for WordPiece, byte-level BPE (the leading-space marker belongs to the
next word's piece; the space itself belongs to no token), SentencePiece/Unigram and
ModernBERT's BPE, and it survives normalizers (lowercasing, accent stripping, NFKC)
because offsets point into the original text. A token that overlaps no wordpiece
(a whitespace token, a control character the normalizer dropped) is aligned to the
nearest preceding wordpiece, or the following one at the start of a span, so every
covered token has at least one row.

A span with more wordpieces than the model's positions is not truncated: its inner
wordpieces are cut into windows that overlap by a quarter, each window gets the span's
special tokens around it, and the model outputs of rows seen by several windows are
averaged (``model.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy
from spacy.attrs import IDX, LENGTH
from spacy.tokens import Doc, Span
from thinc.types import Ragged

from ...errors import UserError
from .data import WordpieceBatch

_SPACE = re.compile(r"\s")


@dataclass
class ModelRow:
    """One input sequence for the model and where its outputs go: span ``span`` of Doc
    ``doc``, positions ``0..len(ids)`` there, or ``targets`` for a window of a long span."""

    ids: numpy.ndarray
    doc: int
    span: int
    targets: Optional[numpy.ndarray] = None


@dataclass
class EncodedBatch:
    rows: List[ModelRow]
    wordpieces: List[WordpieceBatch]  # per Doc, padded to its longest span
    aligns: List[Ragged]  # per Doc, into its flattened (spans * padded length) rows
    windowed: List[bool]  # per Doc: whether a span needed overlapping windows

    def n_spans(self, doc: int) -> int:
        return len(self.wordpieces[doc])

    def padded_length(self, doc: int) -> int:
        return self.wordpieces[doc].padded_length


def ranges(lo: numpy.ndarray, counts: numpy.ndarray) -> numpy.ndarray:
    """Concatenation of ``arange(lo[i], lo[i] + counts[i])`` for every i, vectorized."""
    total = int(counts.sum())
    if total == 0:
        return numpy.zeros((0,), dtype="int64")
    group_starts = numpy.repeat(numpy.cumsum(counts) - counts, counts)
    return numpy.repeat(lo, counts) + (numpy.arange(total) - group_starts)


def trim_leading_space(offsets: numpy.ndarray, text: str) -> numpy.ndarray:
    """Drop a leading whitespace character from pieces that have more than it.

    Byte-level BPE without ``trim_offsets`` (ModernBERT, GPT-2 style) counts the space
    of a ``Ġword`` piece as part of it; the space belongs to the previous token's
    trailing whitespace, not to a spaCy whitespace token.
    """
    if not offsets.size or not text:
        return offsets
    space = numpy.zeros((len(text) + 1,), dtype=bool)
    hits = [m.start() for m in _SPACE.finditer(text)]
    if not hits:
        return offsets
    space[hits] = True
    starts, ends = offsets[:, 0], offsets[:, 1]
    move = space[numpy.minimum(starts, len(text))] & (ends - starts > 1)
    if not move.any():
        return offsets
    out = offsets.copy()
    out[move, 0] += 1
    return out


def align_tokens(
    offsets: numpy.ndarray, special: numpy.ndarray, tok_starts: numpy.ndarray, tok_ends: numpy.ndarray
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """(token index, wordpiece row) pairs for one span; rows are positions in its encoding.

    ``offsets`` is (n_wordpieces, 2) character ranges relative to the span text,
    ``special`` marks special tokens, ``tok_starts/tok_ends`` are the tokens' ranges.
    """
    n_tok = tok_starts.shape[0]
    if n_tok == 0:
        empty = numpy.zeros((0,), dtype="int64")
        return empty, empty
    valid = ~special & (offsets[:, 1] > offsets[:, 0]) if offsets.size else numpy.zeros((0,), dtype=bool)
    pos = numpy.flatnonzero(valid)
    if pos.size == 0:
        # Nothing but special tokens (e.g. a span of whitespace): use the first row.
        return numpy.arange(n_tok), numpy.zeros((n_tok,), dtype="int64")
    # Offsets are monotonic for every tokenizer we know; the running max guards odd ones.
    starts = numpy.maximum.accumulate(offsets[pos, 0])
    ends = numpy.maximum.accumulate(offsets[pos, 1])
    lo = numpy.searchsorted(ends, tok_starts, side="right")  # first piece ending after the token starts
    hi = numpy.searchsorted(starts, tok_ends, side="left")  # first piece starting at/after its end
    counts = numpy.maximum(hi - lo, 0)
    orphan = counts == 0
    if orphan.any():
        fallback = numpy.where(lo > 0, lo - 1, numpy.minimum(lo, pos.size - 1))
        lo = numpy.where(orphan, fallback, lo)
        counts = numpy.where(orphan, 1, counts)
    tok_idx = numpy.repeat(numpy.arange(n_tok), counts)
    return tok_idx, pos[ranges(lo, counts)]


AlignFn = Callable[
    [numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray], Tuple[numpy.ndarray, numpy.ndarray]
]


@dataclass(frozen=True)
class AlignmentRule:
    """How tokens get their wordpieces: ``align`` as :func:`align_tokens`, on offsets with
    their leading spaces trimmed (``trim_leading_space``) or as the tokenizer gives them."""

    align: AlignFn
    trim_leading_space: bool = True


# The rule a model's ``attrs["alignment"]`` names. Another library's rule is registered by
# the code that serves its names (``spacy_transfer.compat``); the core knows only its own.
DEFAULT_ALIGNMENT = "spacy-transfer"
ALIGNMENT_RULES: Dict[str, AlignmentRule] = {DEFAULT_ALIGNMENT: AlignmentRule(align_tokens)}


def register_alignment(name: str, rule: AlignmentRule) -> None:
    ALIGNMENT_RULES[name] = rule


def alignment_rule(name: Optional[str]) -> AlignmentRule:
    """The rule ``name`` names (ours for None)."""
    rule = ALIGNMENT_RULES.get(name or DEFAULT_ALIGNMENT)
    if rule is None:
        raise UserError(
            f"The transformer's alignment rule {name!r} is not known",
            hint=f"Known rules: {', '.join(sorted(ALIGNMENT_RULES))}; a pipeline saved with another library's "
            "rule needs spacy-transfer's compatibility package (import spacy_transfer).",
        )
    return rule


def _window_rows(
    ids: numpy.ndarray, special: numpy.ndarray, doc_i: int, span_i: int, max_len: int
) -> List[ModelRow]:
    n = ids.shape[0]
    pre = 0
    while pre < n and special[pre]:
        pre += 1
    suf = 0
    while suf < n - pre and special[n - 1 - suf]:
        suf += 1
    width = max_len - pre - suf
    if width < 1:
        raise UserError(
            f"The model's maximum length ({max_len}) leaves no room for wordpieces",
            hint="Check the model's max_position_embeddings / the tokenizer's model_max_length.",
        )
    n_inner = n - pre - suf
    step = max(1, width - width // 4)
    starts = list(range(0, max(n_inner - width, 0) + 1, step))
    if starts[-1] + width < n_inner:
        starts.append(n_inner - width)
    prefix, suffix = ids[:pre], ids[n - suf :]
    pre_rows = numpy.arange(pre)
    suf_rows = n - suf + numpy.arange(suf)
    out = []
    for s in starts:
        e = min(s + width, n_inner)
        window = numpy.concatenate([prefix, ids[pre + s : pre + e], suffix])
        targets = numpy.concatenate([pre_rows, pre + numpy.arange(s, e), suf_rows])
        out.append(ModelRow(ids=window, doc=doc_i, span=span_i, targets=targets))
    return out


@dataclass
class _Span:
    ids: numpy.ndarray
    special: numpy.ndarray
    tokens: List[str]
    tok_idx: numpy.ndarray
    tok_pos: numpy.ndarray  # wordpiece position within the span of each aligned token


def _encode_one(
    enc: Any, text: str, span: Span, char_info: numpy.ndarray, filler_id: int, rule: AlignmentRule
) -> _Span:
    ids = numpy.asarray(enc.ids, dtype="int64")
    special = numpy.asarray(enc.special_tokens_mask, dtype=bool)
    offsets = numpy.asarray(enc.offsets, dtype="int64").reshape((-1, 2))
    if rule.trim_leading_space:
        offsets = trim_leading_space(offsets, text)
    tokens = list(enc.tokens)
    if ids.shape[0] == 0:  # a tokenizer without special tokens on an empty text
        ids = numpy.asarray([filler_id], dtype="int64")
        special = numpy.ones((1,), dtype=bool)
        offsets = numpy.zeros((1, 2), dtype="int64")
        tokens = [""]
    info = char_info[span.start : span.end]
    tok_starts = info[:, 0] - span.start_char
    tok_idx, tok_pos = rule.align(offsets, special, tok_starts, tok_starts + info[:, 1])
    return _Span(ids=ids, special=special, tokens=tokens, tok_idx=tok_idx + span.start, tok_pos=tok_pos)


@dataclass(frozen=True)
class TokenizerSpec:
    """What cutting, padding and alignment need of a tokenizer and its model: the longest
    row the model takes, the padding id and token, the id a window's edge gets (the
    tokenizer's CLS/BOS), and whether wordpieces carry token type ids."""

    max_length: int
    filler_id: int
    pad_id: int = 0
    pad_token: str = "[PAD]"
    with_type_ids: bool = False


def encode_spans(
    backend: Any,  # a ``tokenizers.Tokenizer`` (the fast tokenizer's backend)
    docs: Sequence[Doc],
    spans: Sequence[Sequence[Span]],
    spec: TokenizerSpec,
    rule: Optional[AlignmentRule] = None,
) -> EncodedBatch:
    """Tokenize every span of every Doc, align tokens to rows (by ``rule``: ours unless
    given), and cut model rows."""
    rule = rule or ALIGNMENT_RULES[DEFAULT_ALIGNMENT]
    max_len, filler_id = spec.max_length, spec.filler_id
    pad, with_type_ids = (spec.pad_id, spec.pad_token), spec.with_type_ids
    check_spans(docs, spans)
    texts = [doc.text[s.start_char : s.end_char] for doc, doc_spans in zip(docs, spans) for s in doc_spans]
    encodings = backend.encode_batch(texts, add_special_tokens=True) if texts else []
    batch = EncodedBatch(rows=[], wordpieces=[], aligns=[], windowed=[])
    k = 0
    for doc_i, (doc, doc_spans) in enumerate(zip(docs, spans)):
        char_info = doc.to_array([IDX, LENGTH]).astype("int64", copy=False).reshape((-1, 2))
        encoded = [
            _encode_one(encodings[k + j], texts[k + j], span, char_info, filler_id, rule)
            for j, span in enumerate(doc_spans)
        ]
        k += len(doc_spans)
        length = max((e.ids.shape[0] for e in encoded), default=0)
        windowed = False
        for span_i, e in enumerate(encoded):
            if e.ids.shape[0] <= max_len:
                batch.rows.append(ModelRow(ids=e.ids, doc=doc_i, span=span_i))
            else:
                batch.rows.extend(_window_rows(e.ids, e.special, doc_i, span_i, max_len))
                windowed = True
        batch.windowed.append(windowed)
        batch.wordpieces.append(_wordpiece_batch(encoded, length, pad, with_type_ids))
        batch.aligns.append(
            _ragged_alignment(
                len(doc),
                [e.tok_idx for e in encoded],
                [e.tok_pos + i * length for i, e in enumerate(encoded)],
            )
        )
    return batch


def _wordpiece_batch(
    encoded: Sequence[_Span], length: int, pad: Tuple[int, str], with_type_ids: bool
) -> WordpieceBatch:
    n = len(encoded)
    input_ids = numpy.full((n, length), pad[0], dtype="int64")
    mask = numpy.zeros((n, length), dtype="float32")
    lengths = []
    strings = []
    for i, e in enumerate(encoded):
        m = e.ids.shape[0]
        input_ids[i, :m] = e.ids
        mask[i, :m] = 1.0
        lengths.append(m)
        strings.append(e.tokens + [pad[1]] * (length - m) if m < length else e.tokens)
    types = numpy.zeros((n, length), dtype="int64") if with_type_ids else None
    return WordpieceBatch(
        strings=strings, input_ids=input_ids, attention_mask=mask, lengths=lengths, token_type_ids=types
    )


def _ragged_alignment(
    n_tokens: int, tok_parts: List[numpy.ndarray], row_parts: List[numpy.ndarray]
) -> Ragged:
    """Per token, its rows; a token seen by several spans gets their rows in span order."""
    if not tok_parts:
        return Ragged(numpy.zeros((0,), dtype="int32"), numpy.zeros((n_tokens,), dtype="int32"))
    toks = numpy.concatenate(tok_parts) if len(tok_parts) > 1 else tok_parts[0]
    rows = numpy.concatenate(row_parts) if len(row_parts) > 1 else row_parts[0]
    if toks.size > 1 and not bool((toks[1:] >= toks[:-1]).all()):
        order = numpy.argsort(toks, kind="stable")
        toks, rows = toks[order], rows[order]
    lengths = numpy.bincount(toks, minlength=n_tokens)
    return Ragged(rows.astype("int32"), lengths.astype("int32"))


def check_spans(docs: Sequence[Doc], spans: Sequence[Sequence[Span]]) -> None:
    """The span getter must return one list of Spans of each Doc, per Doc."""
    if len(spans) != len(docs):
        raise UserError(
            f"The span getter returned {len(spans)} lists of spans for {len(docs)} Docs",
            hint="A span getter returns one list of Span objects per Doc, in order (see spacy-transfer.doc_spans.v1).",
        )
    for doc, doc_spans in zip(docs, spans):
        for span in doc_spans:
            if not isinstance(span, Span) or span.doc is not doc:
                raise UserError(
                    "The span getter returned something that is not a Span of its Doc",
                    hint="Return doc[start:end] slices of the Doc at the same position in the batch.",
                    rows=[("span", repr(span)[:80])],
                )
