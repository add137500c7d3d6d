"""Compatibility shim: code written for spacy-transformers 1.4 runs unchanged on
spacy-transfer (spacy-transformers itself cannot be installed beside transformers 5).

``import spacy_transformers`` then ``@spacy_transformers.registry.span_getters(...)``,
``from spacy_transformers import Transformer, TransformerModel, TransformerData`` ... all
resolve to spacy-transfer's implementations.
"""

from spacy_transfer.core.transformer import (  # noqa: F401
    FullTransformerBatch,
    Transformer,
    TransformerData,
    TransformerListener,
    TransformerModel,
)
from spacy_transfer.registry import registry

from . import annotation_setters, span_getters  # noqa: F401
from .data_classes import WordpieceData  # noqa: F401

__all__ = [
    "registry",
    "Transformer",
    "TransformerModel",
    "TransformerListener",
    "TransformerData",
    "FullTransformerBatch",
    "span_getters",
    "annotation_setters",
]
