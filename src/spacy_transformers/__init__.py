"""Compatibility package: code written for spacy-transformers 1.4 runs unchanged on
spacy-transfer (spacy-transformers itself cannot be installed beside transformers 5).

Every module a user imports from spacy-transformers 1.4 is here (``util``, ``layers``,
``pipeline_component``, ``data_classes``, ``span_getters``, ``annotation_setters``,
``align``, ``truncate``, ``architectures``) and resolves to spacy-transfer's
implementation; ``doc._.trf_data`` has spacy-transformers' layout.
"""

from spacy_transfer.core.transformer import (  # noqa: F401
    FullTransformerBatch,
    Transformer,
    TransformerData,
    TransformerListener,
    TransformerModel,
)
from spacy_transfer.core.transformer.data import install_extensions  # noqa: F401

from . import (  # noqa: F401
    align,
    annotation_setters,
    architectures,
    data_classes,
    layers,
    pipeline_component,
    span_getters,
    truncate,
    util,
)
from .data_classes import WordpieceBatch, WordpieceData  # noqa: F401
from .util import registry  # noqa: F401

__all__ = [
    "install_extensions",
    "Transformer",
    "TransformerModel",
    "TransformerListener",
    "TransformerData",
    "FullTransformerBatch",
    "WordpieceBatch",
    "architectures",
    "annotation_setters",
    "span_getters",
    "registry",
]
