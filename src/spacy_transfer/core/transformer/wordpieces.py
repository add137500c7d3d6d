"""``WordpieceBatch``: the wordpieces of a set of spans, padded to one length (spacy-transformers'
layout), and the padding helpers that put several of them (or their outputs) side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy
from thinc.api import get_array_module


@dataclass
class WordpieceBatch:
    """The wordpieces of a set of spans, padded to one length."""

    strings: List[List[str]]
    input_ids: Any  # Ints2d (spans, padded length)
    attention_mask: Any  # Floats2d, 1 on real wordpieces
    lengths: List[int]  # unpadded lengths
    token_type_ids: Optional[Any] = None

    def __len__(self) -> int:
        return len(self.strings)

    def __getitem__(self, index: Any) -> "WordpieceBatch":
        sl = slice(index, index + 1) if isinstance(index, int) else index
        return WordpieceBatch(
            strings=self.strings[sl],
            input_ids=self.input_ids[sl],
            attention_mask=self.attention_mask[sl],
            lengths=self.lengths[sl],
            token_type_ids=self.token_type_ids[sl] if self.token_type_ids is not None else None,
        )

    def to_hf_dict(self) -> Dict[str, Any]:
        """The inputs as Hugging Face's tokenizer returns them, as torch tensors."""
        from thinc.api import xp2torch

        out = {
            "input_ids": xp2torch(self.input_ids),
            "attention_mask": xp2torch(self.attention_mask),
            "input_texts": self.strings,
        }
        if self.token_type_ids is not None:
            out["token_type_ids"] = xp2torch(self.token_type_ids)
        return out

    @classmethod
    def empty(cls, *, xp: Any = numpy) -> "WordpieceBatch":
        return cls(
            strings=[],
            input_ids=xp.zeros((0, 0), dtype="i"),
            attention_mask=xp.ones((0, 0), dtype="bool"),
            lengths=[],
            token_type_ids=None,
        )

    @classmethod
    def zeros(cls, lengths: List[int], xp: Any = numpy) -> "WordpieceBatch":
        width = max(lengths) if lengths else 0
        return cls(
            strings=[[""] * n for n in lengths],
            input_ids=xp.zeros((len(lengths), width), dtype="i"),
            attention_mask=xp.ones((len(lengths), width), dtype="bool"),
            lengths=list(lengths),
            token_type_ids=None,
        )

    @classmethod
    def from_batch_encoding(cls, token_data: Any) -> "WordpieceBatch":
        """From a tokenizer's padded NumPy output (``spacy_transformers.util.huggingface_tokenize``,
        or ``tokenizer(texts, padding=True, return_tensors="np")``); arrays stay on the CPU."""
        ids = numpy.asarray(token_data["input_ids"])
        mask = numpy.asarray(token_data["attention_mask"])
        if "input_texts" in token_data:
            strings = [list(s) for s in token_data["input_texts"]]
        elif hasattr(token_data, "tokens") and getattr(token_data, "encodings", None):
            strings = [token_data.tokens(i) for i in range(ids.shape[0])]
        else:
            raise ValueError(
                "from_batch_encoding needs the wordpiece strings: tokenize with "
                "spacy_transformers.util.huggingface_tokenize or a fast tokenizer"
            )
        types = token_data.get("token_type_ids")
        return cls(
            strings=strings,
            input_ids=ids,
            attention_mask=mask.astype("float32").reshape(ids.shape),
            lengths=[int(n) for n in mask.reshape(ids.shape).sum(axis=1)],
            token_type_ids=numpy.asarray(types) if types is not None else None,
        )

    @property
    def padded_length(self) -> int:
        return int(self.input_ids.shape[1]) if len(self.input_ids.shape) == 2 else 0

    def to_dict(self) -> Dict[str, Any]:
        return {
            "strings": self.strings,
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "lengths": self.lengths,
            "token_type_ids": self.token_type_ids,
        }

    def from_dict(self, msg: Dict[str, Any]) -> "WordpieceBatch":
        self.strings = msg["strings"]
        self.input_ids = msg["input_ids"]
        self.attention_mask = msg["attention_mask"]
        self.lengths = msg["lengths"]
        self.token_type_ids = msg.get("token_type_ids")
        return self


WordpieceData = WordpieceBatch  # the name this package used before 0.2


def pad_to(array: Any, length: int, value: Any = 0) -> Any:
    """``array`` (spans, len, ...) padded along axis 1 to ``length``; attentions
    (spans, heads, len, len) along their last two axes."""
    if array.ndim == 4:
        if array.shape[-1] == length:
            return array
        xp = get_array_module(array)
        out = xp.full(array.shape[:2] + (length, length), value, dtype=array.dtype)
        out[:, :, : array.shape[2], : array.shape[3]] = array
        return out
    if array.ndim < 2 or array.shape[1] == length:
        return array
    xp = get_array_module(array)
    out = xp.full((array.shape[0], length) + tuple(array.shape[2:]), value, dtype=array.dtype)
    out[:, : array.shape[1]] = array
    return out


def stack_padded(arrays: Sequence[Any], length: int) -> Any:
    arrays = [a for a in arrays if a is not None and a.shape[0]]
    if not arrays:
        return numpy.zeros((0, length), dtype="f")
    xp = get_array_module(arrays[0])
    return xp.concatenate([pad_to(a, length) for a in arrays])


def concat_wordpieces(pieces: Sequence[WordpieceBatch], length: int) -> WordpieceBatch:
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        return WordpieceBatch.empty()
    pad_string = next((s[n] for p in pieces for s, n in zip(p.strings, p.lengths) if len(s) > n), "")
    strings = [list(s) + [pad_string] * (length - len(s)) for p in pieces for s in p.strings]
    types = [p.token_type_ids for p in pieces]
    return WordpieceBatch(
        strings=strings,
        input_ids=stack_padded([p.input_ids for p in pieces], length),
        attention_mask=stack_padded([p.attention_mask for p in pieces], length),
        lengths=[n for p in pieces for n in p.lengths],
        token_type_ids=stack_padded(types, length) if all(t is not None for t in types) else None,
    )
