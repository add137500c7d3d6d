# The spec's second custom embedding (StaticVectors added to a learned Embed table over
# ORTH ids remapped by `key2row`), written so that it trains. As printed in the spec it
# cannot: FeatureExtractor's list of arrays reaches remap_ids (which wants one array),
# and thinc's add() cannot sum StaticVectors' Ragged output with anything. Here both
# branches give one Ragged for the batch, a small layer sums them, ragged2list() splits.
from typing import Callable, Dict, List, Optional, Tuple

import spacy
from spacy.ml.featureextractor import FeatureExtractor
from spacy.ml.staticvectors import StaticVectors
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Embed, Model, chain, list2ragged, ragged2list, remap_ids_v2, with_array
from thinc.types import Floats2d, Ragged


@registry.architectures("my_example.MyEmbedding.v1")
def MyCustomVectors(
    output_width: int,
    vector_width: int,
    embed_rows: int,
    key2row: Dict[int, int],
) -> Model[List[Doc], List[Floats2d]]:
    # Row 0 of the learned table is for words missing from key2row (remap's default).
    learned = chain(
        FeatureExtractor(["ORTH"]),
        list2ragged(),
        with_array(
            chain(remap_ids_v2(key2row, default=0, column=0), Embed(nO=output_width, nV=embed_rows, column=0))
        ),
    )
    return chain(add_ragged(StaticVectors(nO=output_width), learned), ragged2list())


def add_ragged(first: Model[List[Doc], Ragged], second: Model[List[Doc], Ragged]) -> Model[List[Doc], Ragged]:
    """Sum two layers' Ragged outputs for the same docs."""
    return Model("add_ragged", _add_forward, init=_add_init, layers=[first, second])


def _add_forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[Ragged, Callable]:
    first, second = model.layers
    a, back_a = first(docs, is_train)
    b, back_b = second(docs, is_train)
    summed = Ragged(a.dataXd + b.dataXd, a.lengths)

    def backprop(dY: Ragged) -> List[Doc]:
        back_a(dY)
        back_b(dY)
        return []

    return summed, backprop


def _add_init(model: Model, X: Optional[List[Doc]] = None, Y: Optional[Ragged] = None) -> None:
    for layer in model.layers:
        layer.initialize(X=X)


@registry.misc("my_example.key2row_from_vectors.v1")
def key2row_from_vectors(path: str, rows: int) -> Dict[int, int]:
    """Learned rows 1..rows for the most frequent words of a vectors pipeline (its first rows)."""
    vectors = spacy.load(path).vocab.vectors
    return {int(key): row + 1 for key, row in vectors.key2row.items() if row < rows}
