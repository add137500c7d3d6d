"""spacy-transformers' ``layers.split_trf``."""

from spacy_transfer.core.transformer.data import FullTransformerBatch, TransformerData  # noqa: F401
from spacy_transfer.core.transformer.listener import split_trf_batch  # noqa: F401

__all__ = ["split_trf_batch", "FullTransformerBatch", "TransformerData"]
