# The spec's custom embedding layer (second version), with the imports it leaves implicit.
from typing import Dict, List

from spacy.ml.featureextractor import FeatureExtractor
from spacy.ml.staticvectors import StaticVectors
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Embed, Model, add, chain, remap_ids
from thinc.types import Floats2d


@registry.architectures("my_example.MyEmbedding.v1")
def MyCustomVectors(
    output_width: int, vector_width: int, embed_rows: int, key2row: Dict[int, int]
) -> Model[List[Doc], List[Floats2d]]:
    return add(
        StaticVectors(nO=output_width),
        chain(FeatureExtractor(["ORTH"]), remap_ids(key2row), Embed(nO=output_width, nV=embed_rows)),
    )
