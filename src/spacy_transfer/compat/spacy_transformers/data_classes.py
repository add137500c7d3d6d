"""spacy-transformers' ``data_classes`` module, backed by spacy-transfer (same layout)."""

from spacy_transfer.core.transformer.data import (  # noqa: F401
    FullTransformerBatch,
    TransformerData,
    WordpieceBatch,
    WordpieceData,
)
from spacy_transfer.core.transformer.data import _decode_transformer_data as deserialize_transformer_data  # noqa: F401
from spacy_transfer.core.transformer.data import _encode_transformer_data as serialize_transformer_data  # noqa: F401
from spacy_transfer.core.transformer.serialization import HFObjects  # noqa: F401

from .align import get_token_positions  # noqa: F401
from .util import transpose_list  # noqa: F401

__all__ = ["TransformerData", "FullTransformerBatch", "WordpieceBatch", "WordpieceData", "HFObjects"]
