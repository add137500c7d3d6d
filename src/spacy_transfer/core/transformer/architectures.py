"""Registered architectures (``spacy-transfer.*``); spacy-transformers' names, mapped onto
these, are registered by ``spacy_transfer.compat``.

Nothing here loads weights: resolving a config only records the model name; weights
arrive in ``initialize`` or ``from_disk``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List

from spacy.tokens import Doc
from thinc.api import Model, chain
from thinc.types import Floats2d, Ragged

from ...registry import registry
from .data import FullTransformerBatch
from .listener import TransformerListener, pool_transformer_data, split_trf_batch
from .model import TransformerModel

GradFactorT = Any  # float, list of floats, or a schedule (thinc 8 schedules are generators)


def _with_listener_replacement(model: Model) -> Model:
    """Let ``nlp.replace_listeners`` turn a listener into its own copy of this transformer."""
    model.attrs["replace_listener"] = replace_listener
    model.attrs["replace_listener_cfg"] = replace_listener_cfg
    return model


def replace_listener(model: Model) -> Model:
    """The layer that takes a listener's place: this transformer, split per Doc."""
    return chain(model, split_trf_batch())


def replace_listener_cfg(trf_cfg: Dict[str, Any], listener_cfg: Dict[str, Any]) -> Dict[str, Any]:
    """The config of an independent ``Tok2VecTransformer`` equal to a shared transformer + listener."""
    out = {"@architectures": "spacy-transfer.Tok2VecTransformer.v1"}
    for key in (
        "name",
        "get_spans",
        "tokenizer_config",
        "transformer_config",
        "mixed_precision",
        "grad_scaler_config",
        "freeze_layers",
    ):
        if key in trf_cfg:
            out[key] = trf_cfg[key]
    out["pooling"] = listener_cfg.get("pooling", {"@layers": "reduce_mean.v1"})
    out["grad_factor"] = listener_cfg.get("grad_factor", 1.0)
    return out


@registry.architectures("spacy-transfer.TransformerModel.v1")
def transformer_model(
    name: str,
    get_spans: Callable,
    tokenizer_config: Dict[str, Any] = {},
    transformer_config: Dict[str, Any] = {},
    mixed_precision: bool = False,
    grad_scaler_config: Dict[str, Any] = {},
    freeze_layers: int = 0,
) -> Model[List[Doc], FullTransformerBatch]:
    """Any encoder ``AutoModel`` loads (hub name or local folder), for the ``transformer`` component.
    ``freeze_layers = N``: the embeddings and the bottom N layers keep their loaded weights."""
    return _with_listener_replacement(
        TransformerModel(
            name,
            get_spans,
            tokenizer_config,
            transformer_config,
            mixed_precision,
            grad_scaler_config,
            freeze_layers=freeze_layers,
        )
    )


@registry.architectures("spacy-transfer.TransformerListener.v1")
def transformer_listener(
    pooling: Model[Ragged, Floats2d], grad_factor: GradFactorT = 1.0, upstream: str = "*"
) -> Model[List[Doc], List[Floats2d]]:
    """Token vectors from an upstream ``transformer`` component, pooled over aligned wordpieces."""
    listener = TransformerListener(upstream_name=upstream)
    model: Model = chain(listener, pool_transformer_data(pooling, grad_factor))
    model.set_ref("listener", listener)
    return model


@registry.architectures("spacy-transfer.Tok2VecTransformer.v1")
def tok2vec_transformer(
    name: str,
    get_spans: Callable,
    tokenizer_config: Dict[str, Any],
    pooling: Model[Ragged, Floats2d],
    grad_factor: GradFactorT = 1.0,
    transformer_config: Dict[str, Any] = {},
    mixed_precision: bool = False,
    grad_scaler_config: Dict[str, Any] = {},
    freeze_layers: int = 0,
) -> Model[List[Doc], List[Floats2d]]:
    """A component's own transformer (independent setup): no sharing, no ``doc._.trf_data``."""
    trf = TransformerModel(
        name,
        get_spans,
        tokenizer_config,
        transformer_config,
        mixed_precision,
        grad_scaler_config,
        freeze_layers=freeze_layers,
    )
    # chain of chain: the same structure as a listener after nlp.replace_listeners.
    return chain(chain(trf, split_trf_batch()), pool_transformer_data(pooling, grad_factor))


def with_alignment(model: Model, rule: str) -> Model:
    """Set the token-to-wordpiece alignment rule of every transformer in ``model``:
    ``"spacy-transfer"`` (a whitespace token takes its neighbour's wordpiece) or
    ``"spacy-transformers"`` (it gets none, as spacy-transformers aligns; ``spacy_transfer.compat``
    sets it for pipelines built with spacy-transformers' names, so they predict what they
    predicted there)."""
    for node in model.walk():
        if node.attrs.get("is_transformer_model"):
            node.attrs["alignment"] = rule
    return model


__all__ = [
    "transformer_model",
    "transformer_listener",
    "tok2vec_transformer",
    "replace_listener",
    "replace_listener_cfg",
    "with_alignment",
]
