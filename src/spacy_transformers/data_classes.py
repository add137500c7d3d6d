"""spacy-transformers' ``data_classes`` module, backed by spacy-transfer."""

from spacy_transfer.core.transformer.data import FullTransformerBatch, TransformerData, WordpieceData  # noqa: F401

__all__ = ["TransformerData", "FullTransformerBatch", "WordpieceData"]
