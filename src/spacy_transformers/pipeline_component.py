"""spacy-transformers' ``pipeline_component`` module, backed by spacy-transfer."""

from spacy_transfer.core.transformer.annotation_setters import null_annotation_setter  # noqa: F401
from spacy_transfer.core.transformer.component import (  # noqa: F401
    DEFAULT_CONFIG,
    DEFAULT_CONFIG_STR,
    Transformer,
    make_transformer,
)
from spacy_transfer.core.transformer.data import (  # noqa: F401
    DOC_EXT_ATTR,
    FullTransformerBatch,
    TransformerData,
    install_extensions,
)
from spacy_transfer.core.transformer.listener import TransformerListener  # noqa: F401

from .layers.transformer_model import huggingface_from_pretrained  # noqa: F401
from .util import batch_by_length  # noqa: F401

__all__ = [
    "Transformer",
    "make_transformer",
    "DEFAULT_CONFIG",
    "DEFAULT_CONFIG_STR",
    "DOC_EXT_ATTR",
    "install_extensions",
    "huggingface_from_pretrained",
]
