"""spacy-transformers' ``data_classes`` module, backed by spacy-transfer (same layout)."""

from spacy_transfer.core.transformer.data import (  # noqa: F401
    FullTransformerBatch,
    TransformerData,
    WordpieceBatch,
    WordpieceData,
)

__all__ = ["TransformerData", "FullTransformerBatch", "WordpieceBatch", "WordpieceData"]
