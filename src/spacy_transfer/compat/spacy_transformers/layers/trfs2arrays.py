"""spacy-transformers' ``layers.trfs2arrays``: pooling each token's wordpiece rows."""

from spacy_transfer.core.transformer.data import TransformerData  # noqa: F401
from spacy_transfer.core.transformer.listener import pool_transformer_data as trfs2arrays  # noqa: F401

from ..align import apply_alignment  # noqa: F401

__all__ = ["trfs2arrays", "TransformerData", "apply_alignment"]
