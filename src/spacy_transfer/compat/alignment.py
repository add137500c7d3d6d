"""spacy-transformers 1.4's token-to-wordpiece alignment, registered with the core as the
``"spacy-transformers"`` rule: pipelines built with its names predict what they predicted
there. (Ours is :func:`spacy_transfer.core.transformer.alignment.align_tokens`.)"""

from __future__ import annotations

from typing import Tuple

import numpy

from ..core.transformer.alignment import AlignmentRule, ranges, register_alignment

RULE_NAME = "spacy-transformers"


def align_tokens_st(
    offsets: numpy.ndarray, special: numpy.ndarray, tok_starts: numpy.ndarray, tok_ends: numpy.ndarray
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """spacy-transformers 1.4's rule, for pipelines configured with its names: a token owns
    the characters from its start to one past its end (a later token wins a shared
    character), a wordpiece goes to every token owning one of its characters, and a token
    that owns none of a wordpiece's characters (whitespace) gets no rows at all."""
    n_tok = tok_starts.shape[0]
    empty = numpy.zeros((0,), dtype="int64")
    if n_tok == 0 or not offsets.size:
        return empty, empty
    keep = ~special & (offsets[:, 1] > offsets[:, 0])
    pos = numpy.flatnonzero(keep)
    if pos.size == 0:
        return empty, empty
    lo, hi = offsets[pos, 0], offsets[pos, 1]
    chars = ranges(lo, hi - lo)
    piece = numpy.repeat(pos, hi - lo)
    owner = numpy.searchsorted(tok_starts, chars, side="right") - 1
    owned = (owner >= 0) & (chars < tok_ends[numpy.maximum(owner, 0)] + 1)
    owner, piece = owner[owned], piece[owned]
    n_pieces = int(offsets.shape[0])
    pairs = numpy.unique(owner * n_pieces + piece)
    return pairs // n_pieces, pairs % n_pieces


# spacy-transformers aligns on the offsets as the tokenizer gives them.
register_alignment(RULE_NAME, AlignmentRule(align_tokens_st, trim_leading_space=False))
