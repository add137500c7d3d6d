"""spacy-transformers' ``architectures`` module: its registered names, with 1.4/2.0's
arguments and Python names, mapped onto spacy-transfer's models.

The models are ours; the only difference is the alignment rule (a whitespace token gets
no wordpieces, as spacy-transformers aligns), so pipelines trained with spacy-transformers
predict here what they predicted there.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, List

from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d, Ragged

from spacy_transfer.core.transformer.architectures import (
    tok2vec_transformer,
    transformer_listener,
    transformer_model,
    with_alignment,
)
from spacy_transfer.core.transformer.data import FullTransformerBatch  # noqa: F401
from spacy_transfer.core.transformer.listener import TransformerListener, split_trf_batch  # noqa: F401
from spacy_transfer.core.transformer.listener import pool_transformer_data as trfs2arrays  # noqa: F401
from spacy_transfer.core.transformer.model import TransformerModel  # noqa: F401
from spacy_transfer.registry import registry

RULE = "spacy-transformers"


@registry.architectures("spacy-transformers.TransformerModel.v1")
def create_TransformerModel_v1(
    name: str, get_spans: Callable, tokenizer_config: dict = {}
) -> Model[List[Doc], FullTransformerBatch]:
    return with_alignment(transformer_model(name, get_spans, tokenizer_config), RULE)


@registry.architectures("spacy-transformers.TransformerModel.v2")
def create_TransformerModel_v2(
    name: str, get_spans: Callable, tokenizer_config: dict = {}, transformer_config: dict = {}
) -> Model[List[Doc], FullTransformerBatch]:
    return with_alignment(transformer_model(name, get_spans, tokenizer_config, transformer_config), RULE)


@registry.architectures("spacy-transformers.Tok2VecTransformer.v1")
def transformer_tok2vec_v1(
    name: str,
    get_spans: Callable,
    tokenizer_config: dict,
    pooling: Model[Ragged, Floats2d],
    grad_factor: float = 1.0,
) -> Model[List[Doc], List[Floats2d]]:
    return with_alignment(tok2vec_transformer(name, get_spans, tokenizer_config, pooling, grad_factor), RULE)


@registry.architectures("spacy-transformers.Tok2VecTransformer.v2")
def transformer_tok2vec_v2(
    name: str,
    get_spans: Callable,
    tokenizer_config: dict,
    pooling: Model[Ragged, Floats2d],
    grad_factor: float = 1.0,
    transformer_config: dict = {},
) -> Model[List[Doc], List[Floats2d]]:
    return with_alignment(
        tok2vec_transformer(name, get_spans, tokenizer_config, pooling, grad_factor, transformer_config), RULE
    )


def _with_st_rule(func: Callable[..., Model]) -> Callable[..., Model]:
    """``func`` with spacy-transformers' alignment rule; the same signature, so a config
    validates exactly as for ours."""

    @functools.wraps(func)
    def variant(*args: Any, **kwargs: Any) -> Model:
        return with_alignment(func(*args, **kwargs), RULE)

    return variant


# The v3 names take exactly our arguments; the listener is the same layer under its old name.
create_TransformerModel_v3 = registry.architectures.register(
    "spacy-transformers.TransformerModel.v3", func=_with_st_rule(transformer_model)
)
transformer_tok2vec_v3 = registry.architectures.register(
    "spacy-transformers.Tok2VecTransformer.v3", func=_with_st_rule(tok2vec_transformer)
)
transformer_listener_tok2vec_v1 = registry.architectures.register(
    "spacy-transformers.TransformerListener.v1", func=transformer_listener
)

__all__ = [
    "transformer_listener_tok2vec_v1",
    "transformer_tok2vec_v1",
    "transformer_tok2vec_v2",
    "transformer_tok2vec_v3",
    "create_TransformerModel_v1",
    "create_TransformerModel_v2",
    "create_TransformerModel_v3",
]
