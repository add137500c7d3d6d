"""``spacy-transfer.DistillCorpus.v1``: the teacher's silver shards, mixed with gold data."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Union

import srsly
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.training import Corpus, Example
from spacy.util import registry

from ...errors import UserError

PathLike = Union[str, Path]


class DistillCorpus:
    """Every silver example once per epoch (the shards the cache's manifest lists, minus
    ``exclude``; the first ``limit`` documents of them when it is above 0), with gold
    examples interleaved so that they make ``gold_fraction`` of the stream's words (gold is
    cycled when it is the smaller set, taken in order when larger)."""

    def __init__(
        self,
        silver: PathLike,
        gold: Optional[PathLike] = None,
        gold_fraction: float = 0.5,
        exclude: Iterable[str] = (),
        limit: int = 0,
    ) -> None:
        if not 0.0 <= gold_fraction < 1.0:
            raise UserError(
                f"gold_fraction must be at least 0 and below 1, got {gold_fraction}",
                hint="0.5 gives as many gold as silver examples; 0 trains on the teacher's annotations alone.",
            )
        self.silver = Path(silver)
        manifest = self.silver / "manifest.json"
        if not manifest.exists():
            raise UserError(
                f"No annotation cache in {self.silver}", hint="Run 'spacy-transfer distill' to make it."
            )
        skip = set(exclude)
        self.shards = [
            self.silver / s["file"] for s in srsly.read_json(manifest)["shards"] if s["file"] not in skip
        ]
        self.limit = limit
        self.gold = Corpus(gold) if gold else None
        self.gold_fraction = gold_fraction if gold else 0.0

    def silver_examples(self, nlp: Language) -> Iterator[Example]:
        given = 0
        for path in self.shards:
            for doc in DocBin().from_disk(path).get_docs(nlp.vocab):
                if 0 < self.limit <= given:
                    return
                given += 1
                yield Example(nlp.make_doc(doc.text), doc)

    def __call__(self, nlp: Language) -> Iterator[Example]:
        gold: List[Example] = list(self.gold(nlp)) if self.gold is not None else []
        # The share is one of words, as the batches are: gold documents are often many
        # sentences long and raw-text ones a line, so a share of examples would be mostly gold.
        per_silver = self.gold_fraction / (1.0 - self.gold_fraction)
        silver_words = gold_words = given = 0
        for eg in self.silver_examples(nlp):
            yield eg
            silver_words += _words(eg)
            while gold and gold_words < silver_words * per_silver:
                g = gold[given % len(gold)]
                yield g
                gold_words, given = gold_words + _words(g), given + 1


def _words(eg: Example) -> int:
    return max(len(eg.reference), 1)  # an empty doc still counts, so the mixing always moves on


@registry.readers("spacy-transfer.DistillCorpus.v1")
def create_distill_corpus(
    silver: str,
    gold: Optional[str] = None,
    gold_fraction: float = 0.5,
    exclude: List[str] = [],
    limit: int = 0,
) -> Callable[[Language], Iterable[Example]]:
    return DistillCorpus(silver, gold, gold_fraction, exclude, limit)
