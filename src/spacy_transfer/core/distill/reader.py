"""``spacy-transfer.DistillCorpus.v1``: the teacher's silver shards, mixed with gold data."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, List, Optional, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Corpus, Example
from spacy.util import registry
from spacy.vocab import Vocab

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
            for doc in read_shard(path, nlp.vocab):
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


def read_shard(path: Path, vocab: Vocab) -> Iterator[Doc]:
    """A shard's Docs, as ``DocBin.get_docs`` gives them, with each Doc's user data (the soft
    targets) decoded by one msgpack hook built once: ``srsly.msgpack_loads``, which
    ``get_docs`` calls per Doc, looks its decoders up in the entry points on every call
    (450 us against 11 us per silver Doc here, ~8% of a training epoch on silver data)."""
    from srsly.msgpack._unpacker import unpackb  # srsly's unpackb without its lookup

    db = DocBin().from_disk(path)
    user_data, db.user_data = db.user_data, []
    hook = _msgpack_hook()
    for i, doc in enumerate(db.get_docs(vocab)):
        if i < len(user_data) and user_data[i] is not None:
            doc.user_data.update(unpackb(user_data[i], raw=False, use_list=False, object_hook=hook))
        yield doc


@functools.lru_cache(maxsize=1)
def _msgpack_hook() -> Any:
    """srsly's decoder chain (numpy arrays and the like), as ``srsly.msgpack.unpackb`` builds it."""
    from srsly.msgpack import msgpack_decoders

    hook = None
    for decoder in msgpack_decoders.get_all().values():
        hook = functools.partial(decoder, chain=hook)
    return hook


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
