"""spacy-transformers' ``pipeline_component`` module, backed by spacy-transfer."""

from spacy_transfer.core.transformer.component import DEFAULT_CONFIG, Transformer, make_transformer  # noqa: F401
from spacy_transfer.core.transformer.data import DOC_EXT_ATTR, install_extensions  # noqa: F401

__all__ = ["Transformer", "make_transformer", "DEFAULT_CONFIG", "DOC_EXT_ATTR", "install_extensions"]
