"""spacy-transformers' ``architectures`` module: its registered names, with its arguments,
Python names and layer structure, built from spacy-transfer's layers.

The transformer is ``layers.TransformerModel`` (spacy-transfer's, aligning tokens by
spacy-transformers' rule, so pipelines trained with spacy-transformers predict here what
they predicted there); ``nlp.replace_listeners`` turns its listeners into
``spacy-transformers.Tok2VecTransformer.v3`` blocks, as there.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List

from spacy.tokens import Doc
from thinc.api import Model, chain
from thinc.types import Floats2d, Ragged

from spacy_transfer.core.transformer.architectures import transformer_listener
from spacy_transfer.core.transformer.data import FullTransformerBatch
from spacy_transfer.core.transformer.listener import TransformerListener, split_trf_batch  # noqa: F401
from spacy_transfer.core.transformer.listener import pool_transformer_data as trfs2arrays
from spacy_transfer.registry import registry

from .layers.transformer_model import TransformerModel

Cfg = Dict[str, Any]


@registry.architectures("spacy-transformers.TransformerModel.v1")
def create_TransformerModel_v1(
    name: str, get_spans: Callable, tokenizer_config: Cfg = {}
) -> Model[List[Doc], FullTransformerBatch]:
    return TransformerModel(name, get_spans, tokenizer_config)


@registry.architectures("spacy-transformers.TransformerModel.v2")
def create_TransformerModel_v2(
    name: str, get_spans: Callable, tokenizer_config: Cfg = {}, transformer_config: Cfg = {}
) -> Model[List[Doc], FullTransformerBatch]:
    return TransformerModel(name, get_spans, tokenizer_config, transformer_config)


@registry.architectures("spacy-transformers.TransformerModel.v3")
def create_TransformerModel_v3(
    name: str,
    get_spans: Callable,
    tokenizer_config: Cfg = {},
    transformer_config: Cfg = {},
    mixed_precision: bool = False,
    grad_scaler_config: Cfg = {},
) -> Model[List[Doc], FullTransformerBatch]:
    return TransformerModel(
        name, get_spans, tokenizer_config, transformer_config, mixed_precision, grad_scaler_config
    )


# The listener is spacy-transfer's layer under its old name.
transformer_listener_tok2vec_v1 = registry.architectures.register(
    "spacy-transformers.TransformerListener.v1", func=transformer_listener
)


@registry.architectures("spacy-transformers.Tok2VecTransformer.v1")
def transformer_tok2vec_v1(
    name: str,
    get_spans: Callable,
    tokenizer_config: Cfg,
    pooling: Model[Ragged, Floats2d],
    grad_factor: float = 1.0,
) -> Model[List[Doc], List[Floats2d]]:
    # v1 and v2 are one flat chain, v3 a chain of chains (spacy-transformers' structures,
    # so the weights of pipelines saved with each load node for node).
    return chain(
        TransformerModel(name, get_spans, tokenizer_config),
        split_trf_batch(),
        trfs2arrays(pooling, grad_factor),
    )


@registry.architectures("spacy-transformers.Tok2VecTransformer.v2")
def transformer_tok2vec_v2(
    name: str,
    get_spans: Callable,
    tokenizer_config: Cfg,
    pooling: Model[Ragged, Floats2d],
    grad_factor: float = 1.0,
    transformer_config: Cfg = {},
) -> Model[List[Doc], List[Floats2d]]:
    trf = TransformerModel(name, get_spans, tokenizer_config, transformer_config)
    return chain(trf, split_trf_batch(), trfs2arrays(pooling, grad_factor))


@registry.architectures("spacy-transformers.Tok2VecTransformer.v3")
def transformer_tok2vec_v3(
    name: str,
    get_spans: Callable,
    tokenizer_config: Cfg,
    pooling: Model[Ragged, Floats2d],
    grad_factor: float = 1.0,
    transformer_config: Cfg = {},
    mixed_precision: bool = False,
    grad_scaler_config: Cfg = {},
) -> Model[List[Doc], List[Floats2d]]:
    trf = TransformerModel(
        name, get_spans, tokenizer_config, transformer_config, mixed_precision, grad_scaler_config
    )
    return chain(chain(trf, split_trf_batch()), trfs2arrays(pooling, grad_factor))


__all__ = [
    "transformer_listener_tok2vec_v1",
    "transformer_tok2vec_v1",
    "transformer_tok2vec_v2",
    "transformer_tok2vec_v3",
    "create_TransformerModel_v1",
    "create_TransformerModel_v2",
    "create_TransformerModel_v3",
]
