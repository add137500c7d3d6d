"""spacy-transformers' ``data_classes`` module, backed by spacy-transfer (same layout)."""

from spacy_transfer.core.transformer.data import FullTransformerBatch, TransformerData, WordpieceBatch, WordpieceData  # noqa: F401

__all__ = ["TransformerData", "FullTransformerBatch", "WordpieceBatch", "WordpieceData"]
