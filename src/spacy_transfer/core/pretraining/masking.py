"""Wordpiece masking for masked-LM pretraining: BERT's 80/10/10 rule, whole words (spaCy
tokens) or single wordpieces, windows of the model's length, from a generator whose state
the resume checkpoints keep."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc

from ...errors import UserError

IGNORE = -100  # label of wordpieces the loss skips (torch's CrossEntropyLoss default)


class WordpieceMasker:
    """Wordpiece windows of docs, with whole-word (spaCy token) masking from a saved generator."""

    def __init__(
        self, tokenizer: Any, *, mask_prob: float, whole_word: bool, max_length: int, seed: Optional[int]
    ) -> None:
        self.tokenizer = tokenizer
        self.mask_prob = mask_prob
        self.whole_word = whole_word
        self.rng = numpy.random.default_rng(seed)
        self.prefix, self.suffix = special_template(tokenizer)
        self.window = max_length - len(self.prefix) - len(self.suffix)
        if self.window < 1:
            raise UserError(f"max_length {max_length} leaves no room for text after the special tokens")
        self.mask_id = int(tokenizer.mask_token_id)
        specials = set(tokenizer.all_special_ids)
        self.random_ids = numpy.asarray(
            [i for i in range(len(tokenizer)) if i not in specials], dtype="int64"
        )

    def pieces(self, doc: Doc) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """The doc's wordpiece ids and, per piece, the index of its spaCy token."""
        enc = self.tokenizer(doc.text, add_special_tokens=False, return_offsets_mapping=True)
        ids = numpy.asarray(enc["input_ids"], dtype="int64")
        starts = numpy.asarray([s for s, _ in enc["offset_mapping"]], dtype="int64")
        token_starts = numpy.asarray([t.idx for t in doc], dtype="int64")
        words = (
            numpy.searchsorted(token_starts, starts, side="right") - 1 if len(doc) else numpy.zeros_like(ids)
        )
        return ids, numpy.maximum(words, 0)

    def __call__(self, docs: Sequence[Doc]) -> Tuple[List[numpy.ndarray], List[numpy.ndarray]]:
        """Input ids and labels per window (special tokens added, labels -100 where not picked)."""
        inputs, labels, _ = self.mask(docs)
        return inputs, labels

    def mask(
        self, docs: Sequence[Doc], keep: Optional[Sequence[int]] = None
    ) -> Tuple[List[numpy.ndarray], List[numpy.ndarray], int]:
        """The windows of the docs ``keep`` picks (all by default), and how many wordpieces
        of the whole batch were picked.

        Every doc of the batch is drawn for, kept or not, so all ranks of a data-parallel
        run move their generators alike and mask a shard as one process would mask it
        inside the combined batch.
        """
        wanted = None if keep is None else set(keep)
        inputs: List[numpy.ndarray] = []
        labels: List[numpy.ndarray] = []
        n_picked = 0
        for d, doc in enumerate(docs):
            ids, words = self.pieces(doc)
            if not len(ids):
                continue
            # One draw per spaCy token (whole words) or per wordpiece.
            n_units = len(doc) if self.whole_word else len(ids)
            unit = words if self.whole_word else numpy.arange(len(ids))
            picked_units = self.rng.random(n_units) < self.mask_prob
            roll_units = self.rng.random(n_units)
            picked, roll = picked_units[unit], roll_units[unit]
            masked = ids.copy()
            masked[picked & (roll < 0.8)] = self.mask_id
            swap = picked & (roll >= 0.8) & (roll < 0.9)
            masked[swap] = self.rng.choice(self.random_ids, int(swap.sum()))
            n_picked += int(picked.sum())
            if wanted is not None and d not in wanted:
                continue
            label = numpy.where(picked, ids, IGNORE)
            for start in range(0, len(ids), self.window):
                end = start + self.window
                inputs.append(numpy.concatenate([self.prefix, masked[start:end], self.suffix]))
                labels.append(
                    numpy.concatenate(
                        [
                            numpy.full(len(self.prefix), IGNORE),
                            label[start:end],
                            numpy.full(len(self.suffix), IGNORE),
                        ]
                    )
                )
        return inputs, labels, n_picked

    def get_state(self) -> Dict[str, Any]:
        return self.rng.bit_generator.state

    def set_state(self, state: Dict[str, Any]) -> None:
        self.rng.bit_generator.state = state


def special_template(tokenizer: Any) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """The special-token ids the tokenizer puts before and after a single text."""
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    for i in range(len(full) - len(bare) + 1):
        if full[i : i + len(bare)] == bare:
            return numpy.asarray(full[:i], dtype="int64"), numpy.asarray(full[i + len(bare) :], dtype="int64")
    return numpy.zeros(0, dtype="int64"), numpy.zeros(0, dtype="int64")
