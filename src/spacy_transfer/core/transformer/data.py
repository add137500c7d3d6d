"""What the transformer produces: per-Doc :class:`TransformerData` (on ``doc._.trf_data``)
and the whole-batch :class:`FullTransformerBatch` handed to annotation setters.

The layout is spacy-transformers 1.4's, so code written for it reads our outputs
unchanged:

- ``model_output`` is a Hugging Face ``ModelOutput``; ``tensors`` is
  ``model_output.to_tuple()``. ``tensors[0]`` (``last_hidden_state``) is shaped
  ``(spans, padded length, width)``; it is followed by ``pooler_output`` ``(spans,
  width)`` where the model has a pooler, and by ``hidden_states`` (a list of arrays
  shaped like ``tensors[0]``) when ``transformer_config = {"output_hidden_states": true}``.
- ``align`` is a :class:`thinc.types.Ragged` with one entry per spaCy token whose data are
  indices into the flattened ``tensors[0]`` (``reshape(-1, width)``).
- ``wordpieces`` is a :class:`WordpieceBatch`: ``strings``, ``input_ids``,
  ``attention_mask`` and ``token_type_ids`` padded per span, ``lengths`` unpadded.

Deliberate differences: a Doc's spans are padded to the Doc's own longest span, not the
batch's (less memory); spans longer than the model's positions are not truncated (their
overlapping windows are averaged, so every token has vectors); attentions (with
``transformer_config = {"output_attentions": true}``) per layer (spans, heads, length, length),
averaged over the windows that saw both wordpieces (0 for a pair no window saw together).
The batch-level ``model_output``/``wordpieces``/``align`` of a :class:`FullTransformerBatch`
are built from the per-Doc data on first access (padded to the batch's longest span).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy
import srsly
from spacy.tokens import Doc, Span
from thinc.api import get_array_module
from thinc.types import Ragged

from .wordpieces import WordpieceBatch, WordpieceData, concat_wordpieces, stack_padded

DOC_EXT_ATTR = "trf_data"


def install_extensions() -> None:
    if not Doc.has_extension(DOC_EXT_ATTR):
        Doc.set_extension(DOC_EXT_ATTR, default=None)


def model_output(**fields: Any) -> Any:
    """A Hugging Face ``BaseModelOutputWithPooling`` holding ``fields``: as the encoder's own
    output, a field it did not return reads as None (``model_output.attentions``) and is
    left out of its keys and ``to_tuple()`` (so ``tensors`` lists only what is there)."""
    from transformers.modeling_outputs import BaseModelOutputWithPooling
    from transformers.utils import ModelOutput

    present = {k: v for k, v in fields.items() if v is not None}
    if set(present) <= set(BaseModelOutputWithPooling.__dataclass_fields__):
        return BaseModelOutputWithPooling(**present)
    out = ModelOutput()  # other keys (unsplit_by_doc's output_0, ...): a plain mapping
    for key, value in present.items():
        out[key] = value
    return out


def _empty_ragged() -> Ragged:
    return Ragged(numpy.zeros((0,), dtype="i"), numpy.zeros((0,), dtype="i"))


class _OutputsView:
    """``tensors`` and ``tokens`` as spacy-transformers derives them from its fields."""

    model_output: Any
    wordpieces: WordpieceBatch

    @property
    def tensors(self) -> tuple:
        return self.model_output.to_tuple()

    @property
    def tokens(self) -> Dict[str, Any]:
        """Deprecated in spacy-transformers too: the wordpieces as torch tensors."""
        return self.wordpieces.to_hf_dict()


@dataclass
class TransformerData(_OutputsView):
    """Wordpieces, model outputs and token alignment for one Doc."""

    wordpieces: WordpieceBatch
    model_output: Any  # transformers ModelOutput
    align: Ragged
    # Ours (not serialized): where the Doc's spans lie, and the Doc weakly. Holding Span
    # objects would make Doc -> user_data -> TransformerData -> Span -> Doc a reference
    # cycle, so a dropped Doc's tensors would wait for the cyclic garbage collector.
    span_bounds: List[Tuple[int, int]] = field(default_factory=list)
    doc_ref: Optional[Callable[[], Optional[Doc]]] = field(default=None, repr=False, compare=False)

    @classmethod
    def for_spans(cls, spans: Sequence[Span], **fields: Any) -> "TransformerData":
        """Data for one Doc whose transformer input was ``spans`` (all from that Doc)."""
        doc_ref = weakref.ref(spans[0].doc) if spans else None
        return cls(**fields, span_bounds=[(s.start, s.end) for s in spans], doc_ref=doc_ref)

    @property
    def spans(self) -> List[Span]:
        """The Doc's spans, in order (empty once the Doc itself is gone)."""
        doc = self.doc_ref() if self.doc_ref is not None else None
        return [] if doc is None else [doc[start:end] for start, end in self.span_bounds]

    @property
    def width(self) -> int:
        if "last_hidden_state" not in self.model_output:
            raise ValueError("Cannot find last hidden state")
        return int(self.model_output.last_hidden_state.shape[-1])

    def flat_hidden(self) -> Any:
        """``tensors[0]`` as ``(spans * padded length, width)``, what ``align`` indexes."""
        lhs = self.model_output.last_hidden_state
        return lhs.reshape((-1, lhs.shape[-1]))

    @classmethod
    def empty(cls) -> "TransformerData":
        return cls(wordpieces=WordpieceBatch.empty(), model_output=model_output(), align=_empty_ragged())

    @classmethod
    def zeros(cls, length: int, width: int, *, xp: Any = numpy) -> "TransformerData":
        """Valid data for ``length`` tokens filled with zeros (one wordpiece per token)."""
        return cls(
            wordpieces=WordpieceBatch.zeros([length], xp=xp),
            model_output=model_output(last_hidden_state=xp.zeros((1, length, width), dtype="f")),
            align=Ragged(numpy.arange(length, dtype="i"), numpy.ones((length,), dtype="i")),
        )

    def to_dict(self) -> Dict[str, Any]:
        return {
            "wordpieces": self.wordpieces.to_dict(),
            "model_output": dict(self.model_output),
            "align": [self.align.dataXd, self.align.lengths],
        }

    def from_dict(self, msg: Dict[str, Any]) -> "TransformerData":
        self.wordpieces = WordpieceBatch.empty().from_dict(msg["wordpieces"])
        self.model_output = model_output(**msg["model_output"])
        self.align = Ragged(*msg["align"])
        return self

    def to_bytes(self) -> bytes:
        return srsly.msgpack_dumps(self.to_dict())

    def from_bytes(self, byte_string: bytes) -> "TransformerData":
        return self.from_dict(srsly.msgpack_loads(byte_string))


# DocBin / Doc.to_bytes with user_data keep trf_data the way spacy-transformers did.
@srsly.msgpack_encoders("spacy-transfer.transformerdata")
def _encode_transformer_data(obj: Any, chain: Any = None) -> Any:
    if isinstance(obj, TransformerData):
        return {"__transformerdata__": obj.to_dict()}
    return obj if chain is None else chain(obj)


@srsly.msgpack_decoders("spacy-transfer.transformerdata")
def _decode_transformer_data(obj: Any, chain: Any = None) -> Any:
    if isinstance(obj, dict) and "__transformerdata__" in obj:
        return TransformerData.empty().from_dict(obj["__transformerdata__"])
    return obj if chain is None else chain(obj)


class FullTransformerBatch(_OutputsView):
    """A batch of Docs through the transformer: its spans, wordpieces, model output and alignment.

    Built either from per-Doc data (what our model does: nothing is padded to the batch
    until ``model_output``/``wordpieces``/``align`` is read) or, as in spacy-transformers,
    from batch-level fields, which ``doc_data``/``split_by_doc`` then split per Doc.
    """

    def __init__(
        self,
        spans: List[List[Span]],
        wordpieces: Optional[WordpieceBatch] = None,
        model_output: Any = None,
        align: Optional[Ragged] = None,
        cached_doc_data: Optional[List[TransformerData]] = None,
    ) -> None:
        if cached_doc_data is None and model_output is None:
            raise ValueError(
                "FullTransformerBatch needs model_output (with wordpieces and align) or cached_doc_data"
            )
        self.spans = spans
        self._wordpieces = wordpieces
        self._model_output = model_output
        self._align = align
        self.cached_doc_data = cached_doc_data

    # ---------------------------------------------------------------- batch level
    @property
    def wordpieces(self) -> WordpieceBatch:
        if self._wordpieces is None:
            self._wordpieces = concat_wordpieces([d.wordpieces for d in self.doc_data], self._padded_length())
        return self._wordpieces

    @property
    def model_output(self) -> Any:
        if self._model_output is None:
            self._model_output = _concat_outputs(
                [d.model_output for d in self.doc_data], self._padded_length()
            )
        return self._model_output

    @property
    def align(self) -> Ragged:
        if self._align is None:
            self._align = _concat_aligns(self.doc_data, self._padded_length())
        return self._align

    @property
    def docs(self) -> List[Optional[Doc]]:
        return [s[0].doc if s else None for s in self.spans]

    def _padded_length(self) -> int:
        return max((d.wordpieces.padded_length for d in self.doc_data), default=0)

    def __len__(self) -> int:
        return len(self.spans)

    # ---------------------------------------------------------------- per Doc
    @property
    def doc_data(self) -> List[TransformerData]:
        """The outputs, split per Doc."""
        if self.cached_doc_data is None:
            self.cached_doc_data = self.split_by_doc()
        return self.cached_doc_data

    def split_by_doc(self) -> List[TransformerData]:
        """One :class:`TransformerData` per Doc, sliced from the batch-level fields."""
        if self._model_output is None:
            return list(self.cached_doc_data or [])
        wordpieces, align = self.wordpieces, self.align
        length = wordpieces.padded_length
        out: List[TransformerData] = []
        span0, tok0 = 0, 0
        for doc_spans in self.spans:
            n_spans = len(doc_spans)
            n_tok = len(doc_spans[0].doc) if doc_spans else 0
            if n_spans == 0:
                out.append(TransformerData.empty())
                continue
            doc_align = align[tok0 : tok0 + n_tok]
            doc_align = Ragged(doc_align.dataXd - span0 * length, doc_align.lengths)
            fields = {k: _slice_output(v, span0, span0 + n_spans) for k, v in self._model_output.items()}
            out.append(
                TransformerData.for_spans(
                    doc_spans,
                    wordpieces=wordpieces[span0 : span0 + n_spans],
                    model_output=model_output(**fields),
                    align=doc_align,
                )
            )
            span0 += n_spans
            tok0 += n_tok
        return out

    def unsplit_by_doc(self, arrays: List[List[Any]]) -> "FullTransformerBatch":
        """A batch with the same spans, wordpieces and alignment and ``arrays`` (per Doc, a
        list of arrays shaped like its tensors) stacked as ``output_0``, ``output_1``...
        (how spacy-transformers builds the gradient it sends into the model)."""
        from thinc.api import xp2torch

        length = self._padded_length()
        outputs = {
            f"output_{i}": xp2torch(stack_padded(list(per_doc), length))
            for i, per_doc in enumerate(zip(*arrays))
        }
        return FullTransformerBatch(
            spans=self.spans,
            wordpieces=self.wordpieces,
            model_output=model_output(**outputs),
            align=self.align,
        )

    @classmethod
    def empty(cls, nr_docs: int) -> "FullTransformerBatch":
        return cls(
            spans=[[] for _ in range(nr_docs)],
            wordpieces=WordpieceBatch.empty(),
            model_output=model_output(),
            align=_empty_ragged(),
            cached_doc_data=[TransformerData.empty() for _ in range(nr_docs)],
        )


def doc_gradients(d_docs: Any) -> List[Optional[Any]]:
    """Gradients for a batch, per Doc an array shaped like its last hidden state (or None).
    Also takes what layers written for spacy-transformers send back: a
    FullTransformerBatch, or per Doc a TransformerData or a list of arrays."""
    if isinstance(d_docs, FullTransformerBatch):
        d_docs = d_docs.doc_data
    out: List[Optional[Any]] = []
    for d in d_docs:
        if isinstance(d, TransformerData):
            d = d.model_output.get("last_hidden_state")
        elif isinstance(d, (list, tuple)):
            d = d[0] if d else None
        out.append(d)
    return out


# ---------------------------------------------------------------------------- padding helpers


def _slice_output(value: Any, start: int, end: int) -> Any:
    if isinstance(value, (list, tuple)):
        return [_to_xp(v)[start:end] for v in value]
    return _to_xp(value)[start:end]


def _to_xp(value: Any) -> Any:
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        from thinc.api import torch2xp

        return torch2xp(value.detach())
    return value


def _concat_outputs(outputs: Sequence[Any], length: int) -> Any:
    """Per-Doc ModelOutputs -> one, padded to ``length``, as torch tensors (spacy-transformers' batch)."""
    from thinc.api import xp2torch

    present = [o for o in outputs if "last_hidden_state" in o]
    if not present:
        return model_output()
    fields: Dict[str, Any] = {}
    for key, first in present[0].items():
        if isinstance(first, (list, tuple)):
            fields[key] = tuple(
                xp2torch(stack_padded([o[key][i] for o in present], length)) for i in range(len(first))
            )
        elif first.ndim == 2:  # pooler_output (spans, width): nothing to pad
            fields[key] = xp2torch(get_array_module(first).concatenate([o[key] for o in present]))
        else:
            fields[key] = xp2torch(stack_padded([o[key] for o in present], length))
    return model_output(**fields)


def _concat_aligns(datas: Sequence[TransformerData], length: int) -> Ragged:
    """Per-Doc alignments re-based onto the batch's flattened, ``length``-padded rows."""
    data_parts, len_parts = [], []
    span0 = 0
    for d in datas:
        own = d.wordpieces.padded_length or 1
        rows = numpy.asarray(_host(d.align.dataXd), dtype="int64")
        data_parts.append((span0 + rows // own) * length + rows % own)
        len_parts.append(numpy.asarray(_host(d.align.lengths)))
        span0 += len(d.wordpieces)
    if not data_parts:
        return _empty_ragged()
    return Ragged(numpy.concatenate(data_parts).astype("i"), numpy.concatenate(len_parts).astype("i"))


def _host(array: Any) -> Any:
    return array.get() if hasattr(array, "get") else array


__all__ = [
    "doc_gradients",
    "DOC_EXT_ATTR",
    "install_extensions",
    "WordpieceBatch",
    "WordpieceData",
    "TransformerData",
    "FullTransformerBatch",
    "model_output",
]
