"""spacy-transformers' ``architectures`` module: its registered functions, under their
1.4 Python names, backed by spacy-transfer."""

from spacy_transfer.core.transformer.architectures import (  # noqa: F401
    tok2vec_transformer_st_v1 as transformer_tok2vec_v1,
)
from spacy_transfer.core.transformer.architectures import (
    tok2vec_transformer_st_v2 as transformer_tok2vec_v2,
)
from spacy_transfer.core.transformer.architectures import (
    tok2vec_transformer_st_v3 as transformer_tok2vec_v3,
)
from spacy_transfer.core.transformer.architectures import (
    transformer_listener_st_v1 as transformer_listener_tok2vec_v1,
)
from spacy_transfer.core.transformer.architectures import (
    transformer_model_st_v1 as create_TransformerModel_v1,
)
from spacy_transfer.core.transformer.architectures import (
    transformer_model_st_v2 as create_TransformerModel_v2,
)
from spacy_transfer.core.transformer.architectures import (
    transformer_model_st_v3 as create_TransformerModel_v3,
)
from spacy_transfer.core.transformer.data import FullTransformerBatch  # noqa: F401
from spacy_transfer.core.transformer.listener import TransformerListener, split_trf_batch  # noqa: F401
from spacy_transfer.core.transformer.listener import pool_transformer_data as trfs2arrays  # noqa: F401
from spacy_transfer.core.transformer.model import TransformerModel  # noqa: F401

__all__ = [
    "transformer_listener_tok2vec_v1",
    "transformer_tok2vec_v1",
    "transformer_tok2vec_v2",
    "transformer_tok2vec_v3",
    "create_TransformerModel_v1",
    "create_TransformerModel_v2",
    "create_TransformerModel_v3",
]
