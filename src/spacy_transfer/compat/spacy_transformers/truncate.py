"""spacy-transformers' ``truncate`` module.

spacy-transfer itself never truncates (long spans run as overlapping windows whose
outputs are averaged); this function is kept for code that calls it on its own data,
and drops wordpieces from the end of too-long rows as spacy-transformers 1.4 did.
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
    n_seq = len(wordpieces)
    flat = mask.ravel()

    def cut(array):
        return array.reshape((-1,))[flat].reshape((n_seq, -1))

    strings = [[s for j, s in enumerate(seq) if j < max_length] for seq in wordpieces.strings]
    new_wp = WordpieceBatch(
        strings=strings,
        input_ids=cut(wordpieces.input_ids),
        attention_mask=cut(wordpieces.attention_mask),
        lengths=[min(n, max_length) for n in wordpieces.lengths],
        token_type_ids=cut(wordpieces.token_type_ids) if wordpieces.token_type_ids is not None else None,
    )
    idx_map = flat.cumsum() - 1
    idx_map[~flat] = -1
    data = numpy.asarray(align.dataXd).ravel()
    mapped = idx_map[data]
    kept = mapped >= 0
    token_of = numpy.repeat(numpy.arange(align.lengths.shape[0]), numpy.asarray(align.lengths))
    lengths = numpy.bincount(token_of[kept], minlength=align.lengths.shape[0]).astype("i")
    return new_wp, Ragged(mapped[kept].astype("i"), lengths)


__all__ = ["truncate_oversize_splits"]
