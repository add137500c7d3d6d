"""The stream of training batches, with the position needed to resume it exactly.

Semantics are spaCy's: ``max_epochs >= 0`` reads the corpus once and shuffles the
examples in place with Python's ``random`` at the start of every epoch (0 means no
limit); ``max_epochs == -1`` re-reads the corpus as a stream each epoch, unshuffled.

To resume, we remember Python's random state at the start of every epoch (and before
the corpus is read). Replaying then re-creates each epoch's order and pulls the same
number of batches from the same batcher, so stateful batchers (a batch-size schedule
that runs across epochs) end up exactly where they were.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Iterable, Iterator, List, Optional, Tuple

from spacy.training import Example

from ...errors import UserError
from ..state import python_rng_json, set_python_rng_json

Batch = List[Example]


class TrainBatches:
    """Iterate ``(epoch, batch)``; ``position()`` / ``replay()`` save and restore where it is."""

    def __init__(
        self, nlp: Any, corpus: Callable, batcher: Callable, max_epochs: int, corpus_name: str = "train"
    ) -> None:
        self.nlp = nlp
        self.corpus = corpus
        self.batcher = batcher
        self.max_epochs = max_epochs
        self.corpus_name = corpus_name
        self.examples: Optional[List[Example]] = None
        self.corpus_rng: Optional[List[Any]] = None
        self.epoch_rngs: List[List[Any]] = []
        self.epoch = 0
        self.batches_in_epoch = 0
        self._iter: Optional[Iterator[Tuple[int, Batch]]] = None
        self._replay_rngs: List[List[Any]] = []

    def load(self) -> List[Example]:
        """Read the corpus into memory (``max_epochs >= 0``); fails clearly when empty."""
        if self.examples is None and self.max_epochs >= 0:
            self.corpus_rng = python_rng_json()
            self.examples = list(self.corpus(self.nlp))
            if not self.examples:
                raise UserError(
                    f"The {self.corpus_name} corpus has no examples",
                    hint="Check [paths] / [corpora]: the .spacy file(s) are empty.",
                )
        return self.examples or []

    def _generate(self) -> Iterator[Tuple[int, Batch]]:
        self.load()
        while self.max_epochs < 1 or self.epoch != self.max_epochs:
            if self.epoch < len(self._replay_rngs):
                set_python_rng_json(self._replay_rngs[self.epoch])
            if len(self.epoch_rngs) <= self.epoch:
                self.epoch_rngs.append(python_rng_json())
            if self.max_epochs >= 0:
                random.shuffle(self.examples)  # type: ignore[arg-type]
                stream: Iterable[Example] = self.examples  # type: ignore[assignment]
            else:
                stream = self.corpus(self.nlp)
            for batch in self.batcher(stream):
                self.batches_in_epoch += 1
                yield self.epoch, batch
            self.epoch += 1
            self.batches_in_epoch = 0

    def __iter__(self) -> Iterator[Tuple[int, Batch]]:
        if self._iter is None:
            self._iter = self._generate()
        return self._iter

    def position(self) -> dict:
        return {
            "epoch": self.epoch,
            "batches_in_epoch": self.batches_in_epoch,
            "corpus_rng": self.corpus_rng,
            "epoch_rngs": self.epoch_rngs,
        }

    def replay(self, position: dict) -> None:
        """Advance a fresh stream to ``position`` by re-running the same shuffles and batcher.

        The caller restores the checkpoint's random states afterwards.
        """
        if position.get("corpus_rng") is not None:
            set_python_rng_json(position["corpus_rng"])
        self.load()
        target = (int(position["epoch"]), int(position["batches_in_epoch"]))
        # Each epoch starts from its recorded random state, which makes its shuffle
        # identical; then pull batches until we stand where the checkpoint stood.
        self._replay_rngs = [list(r) for r in position["epoch_rngs"]]
        self.epoch_rngs = []
        it = iter(self)
        try:
            while (self.epoch, self.batches_in_epoch) != target:
                next(it)
        except StopIteration:
            pass
        finally:
            self._replay_rngs = []
