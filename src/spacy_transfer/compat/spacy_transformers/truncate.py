"""spacy-transformers' ``truncate`` module.

spacy-transfer itself never truncates (long spans run as overlapping windows whose
outputs are averaged); these functions are kept for code that calls them on its own data.
They drop the wordpieces a boolean ``mask`` (one flag per padded wordpiece, rows of the
batch one after the other) marks False, and re-index the token alignment to match;
``truncate_oversize_splits`` drops from the end of too-long rows, as spacy-transformers does.
"""

from __future__ import annotations

from typing import Tuple

import numpy
from thinc.types import Ragged

from .data_classes import WordpieceBatch


def truncate_oversize_splits(
    wordpieces: WordpieceBatch, align: Ragged, max_length: int
) -> Tuple[WordpieceBatch, Ragged]:
    """Rows cut to ``max_length`` wordpieces, and ``align`` re-indexed to match."""
    if wordpieces.input_ids.shape[1] < max_length:
        return wordpieces, align
    mask = numpy.ones(wordpieces.input_ids.shape, dtype=bool)
    mask[:, max_length:] = False
    return _truncate_tokens(wordpieces, mask), _truncate_alignment(align, mask)


def _truncate_tokens(wordpieces: WordpieceBatch, mask: numpy.ndarray) -> WordpieceBatch:
    """The wordpieces ``mask`` keeps; each row keeps as many columns as the mask gives it."""
    n_seq = len(wordpieces)
    rows = numpy.asarray(mask, dtype=bool).reshape((n_seq, -1))
    flat = rows.ravel()

    def cut(array: numpy.ndarray) -> numpy.ndarray:
        return array.reshape((-1,))[flat].reshape((n_seq, -1))

    strings = [[s for s, keep in zip(seq, row) if keep] for seq, row in zip(wordpieces.strings, rows)]
    return WordpieceBatch(
        strings=strings,
        input_ids=cut(wordpieces.input_ids),
        attention_mask=cut(wordpieces.attention_mask),
        lengths=[len(seq) for seq in strings],
        token_type_ids=cut(wordpieces.token_type_ids) if wordpieces.token_type_ids is not None else None,
    )


def _truncate_alignment(align: Ragged, mask: numpy.ndarray) -> Ragged:
    """``align`` pointing into the kept wordpieces: dropped ones leave their tokens, and
    every token keeps its entry (possibly empty)."""
    flat = numpy.asarray(mask, dtype=bool).ravel()
    new_index = flat.cumsum() - 1  # where each kept wordpiece lands
    data = numpy.asarray(align.dataXd).ravel()
    kept = flat[data]
    token_of = numpy.repeat(numpy.arange(align.lengths.shape[0]), numpy.asarray(align.lengths))
    lengths = numpy.bincount(token_of[kept], minlength=align.lengths.shape[0]).astype("i")
    return Ragged(new_index[data[kept]].astype("i"), lengths)


__all__ = ["truncate_oversize_splits"]
