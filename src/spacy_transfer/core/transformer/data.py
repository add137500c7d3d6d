"""What the transformer produces: per-Doc :class:`TransformerData` (on ``doc._.trf_data``)
and the whole-batch :class:`FullTransformerBatch` handed to annotation setters.

Layout (documented, relied on by listeners): every Doc's wordpiece rows are the
concatenation of its spans' wordpieces, special tokens included, in span order. Each
entry of ``tensors`` is a 2d array ``(n_rows, width)`` over those rows:
``tensors[0]`` is the last hidden state; when the model is asked for all hidden layers
(``transformer_config = {"output_hidden_states": true}``) ``tensors[1:]`` are the
embedding output and every layer in order, so ``tensors[-1]`` is always the top layer.
``align`` is a :class:`thinc.types.Ragged` with one entry per spaCy token whose data
are the row indices that token is aligned to (at least one row for every token the
span getter covers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional

import numpy
from spacy.tokens import Doc, Span
from thinc.types import Ragged

DOC_EXT_ATTR = "trf_data"


def install_extensions() -> None:
    if not Doc.has_extension(DOC_EXT_ATTR):
        Doc.set_extension(DOC_EXT_ATTR, default=None)


@dataclass
class WordpieceData:
    """The wordpieces of one Doc, per span: strings, ids and lengths (rows per span)."""

    strings: List[List[str]]
    input_ids: List[numpy.ndarray]
    lengths: List[int]

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def n_rows(self) -> int:
        return int(sum(self.lengths))


@dataclass
class TransformerData:
    """Wordpieces, model outputs and token alignment for one Doc."""

    wordpieces: WordpieceData
    tensors: List[Any]
    align: Ragged
    spans: List[Span] = field(default_factory=list)

    @property
    def width(self) -> int:
        return int(self.tensors[-1].shape[-1]) if self.tensors else 0

    @property
    def n_tokens(self) -> int:
        return int(self.align.lengths.shape[0])

    @classmethod
    def zeros(cls, n_tokens: int, width: int, xp: Any = numpy) -> "TransformerData":
        """Placeholder data: one zero row per token (used before a transformer has run)."""
        align = Ragged(xp.arange(n_tokens, dtype="i"), xp.ones((n_tokens,), dtype="i"))
        wp = WordpieceData(strings=[[""] * n_tokens], input_ids=[numpy.zeros((n_tokens,), dtype="i")], lengths=[n_tokens])
        return cls(wordpieces=wp, tensors=[xp.zeros((n_tokens, width), dtype="f")], align=align)


@dataclass
class FullTransformerBatch:
    """A whole batch of Docs through the transformer: the spans, and per-Doc data."""

    spans: List[List[Span]]
    doc_data: List[TransformerData]

    @property
    def docs(self) -> List[Doc]:
        return [data.spans[0].doc if data.spans else None for data in self.doc_data]  # type: ignore[misc]

    @property
    def tensors(self) -> List[List[Any]]:
        """Per Doc, its list of output tensors (see the module docstring for the layout)."""
        return [d.tensors for d in self.doc_data]

    def split_by_doc(self) -> List[TransformerData]:
        return list(self.doc_data)

    def __len__(self) -> int:
        return len(self.doc_data)

    @classmethod
    def empty(cls, n_docs: int, width: int = 0) -> "FullTransformerBatch":
        return cls(spans=[[] for _ in range(n_docs)], doc_data=[TransformerData.zeros(0, width) for _ in range(n_docs)])


__all__ = ["DOC_EXT_ATTR", "install_extensions", "WordpieceData", "TransformerData", "FullTransformerBatch"]
