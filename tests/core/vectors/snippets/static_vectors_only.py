# The spec's first custom embedding (StaticVectors alone), written so that it trains:
# StaticVectors returns one Ragged for the batch, while Tok2Vec.v2 and the tagger need a
# list of arrays per doc, so ragged2list() follows it (as printed, training fails in the
# tagger with "'Ragged' object has no attribute 'sum'").
from typing import List

from spacy.ml.staticvectors import StaticVectors
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, chain, ragged2list
from thinc.types import Floats2d


@registry.architectures("my_example.MyEmbedding.v1")
def MyEmbedding(output_width: int) -> Model[List[Doc], List[Floats2d]]:
    return chain(StaticVectors(nO=output_width), ragged2list())
