"""spacy-transformers' import surface, backed by spacy-transfer: code written for
spacy-transformers 1.4 or 2.0 runs unchanged.

This package is imported as ``spacy_transformers`` only, found by ``_spacy_transfer_st``'s
finder where the real spacy-transformers is not installed (or where
``SPACY_TRANSFORMERS_IMPL=spacy-transfer`` asks for it); it is not a top-level folder of
ours, so it never overwrites the real package's files.

Every module a user imports from spacy-transformers is here (``util``, ``layers``,
``pipeline_component``, ``data_classes``, ``span_getters``, ``annotation_setters``,
``align``, ``truncate``, ``architectures``) and resolves to spacy-transfer's
implementation; ``doc._.trf_data`` has spacy-transformers' layout. Importing it registers
the ``transformer`` factory and the ``spacy-transformers.*`` names.
"""

if __name__ != "spacy_transformers":  # one module object per name: registrations happen once
    raise ImportError(
        f"{__name__} is spacy-transfer's spacy-transformers surface: import it as spacy_transformers"
    )

from spacy_transfer.core.transformer import (  # noqa: F401
    FullTransformerBatch,
    Transformer,
    TransformerData,
    TransformerListener,
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
from .layers import TransformerModel  # noqa: F401
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
