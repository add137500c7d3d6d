"""Registered architectures (``spacy-transfer.*``); spacy-transformers' names, mapped onto
these, are registered by ``spacy_transfer.compat``.

Nothing here loads weights: resolving a config only records the model name; weights
arrive in ``initialize`` or ``from_disk``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from spacy.tokens import Doc
from thinc.api import Model, chain
from thinc.types import Floats2d, Ragged

from ...registry import registry
from .adapters import AdapterSpec
from .data import FullTransformerBatch
from .listener import TransformerListener, pool_transformer_data, split_trf_batch
from .mixing import scalar_mix
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
        "layer_lr_decay",
        "unfreeze_every",
        "adapter",
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
    layer_lr_decay: float = 1.0,
    unfreeze_every: int = 0,
    adapter: Optional[AdapterSpec] = None,
) -> Model[List[Doc], FullTransformerBatch]:
    """Any encoder ``AutoModel`` loads (hub name or local folder), for the ``transformer`` component.

    Layer control and parameter-efficient fine-tuning (:mod:`.layers`, :mod:`.adapters`):
    ``freeze_layers = N`` keeps the embeddings and the bottom N layers as loaded;
    ``layer_lr_decay`` multiplies each lower layer's learning rate; ``unfreeze_every = K``
    unfreezes one more layer, top-down, every K updates; ``adapter`` (a
    ``[...model.adapter]`` block such as ``spacy-transfer.LoRA.v1``) trains LoRA adapters
    instead of the encoder's weights."""
    return _with_listener_replacement(
        TransformerModel(
            name,
            get_spans,
            tokenizer_config,
            transformer_config,
            mixed_precision,
            grad_scaler_config,
            freeze_layers=freeze_layers,
            layer_lr_decay=layer_lr_decay,
            unfreeze_every=unfreeze_every,
            adapter=adapter,
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


@registry.architectures("spacy-transfer.AllLayersListener.v1")
def all_layers_listener(
    pooling: Model[Ragged, Floats2d], grad_factor: GradFactorT = 1.0, upstream: str = "*"
) -> Model[List[Doc], List[Floats2d]]:
    """Token vectors from a learned mix of all the upstream transformer's hidden states
    (softmax weights and a scale, :mod:`.mixing`), pooled over aligned wordpieces. The
    transformer must return them: ``output_hidden_states = true`` in its transformer_config."""
    listener = TransformerListener(upstream_name=upstream)
    model: Model = chain(listener, scalar_mix(), pool_transformer_data(pooling, grad_factor))
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
    layer_lr_decay: float = 1.0,
    unfreeze_every: int = 0,
    adapter: Optional[AdapterSpec] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """A component's own transformer (independent setup): no sharing, no ``doc._.trf_data``.
    Layer control and adapters as in ``spacy-transfer.TransformerModel.v1``."""
    trf = TransformerModel(
        name,
        get_spans,
        tokenizer_config,
        transformer_config,
        mixed_precision,
        grad_scaler_config,
        freeze_layers=freeze_layers,
        layer_lr_decay=layer_lr_decay,
        unfreeze_every=unfreeze_every,
        adapter=adapter,
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
    "all_layers_listener",
    "tok2vec_transformer",
    "replace_listener",
    "replace_listener_cfg",
    "with_alignment",
]
