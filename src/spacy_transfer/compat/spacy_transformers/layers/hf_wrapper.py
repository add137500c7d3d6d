"""spacy-transformers' ``layers.hf_wrapper``: ``HFWrapper``, a Hugging Face model as a thinc
layer through thinc's ``PyTorchWrapper`` forward, for models code builds by hand."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from thinc.api import Model, registry
from thinc.layers.pytorchwrapper import convert_pytorch_default_inputs, convert_pytorch_default_outputs
from thinc.layers.pytorchwrapper import forward as pytorch_forward

from spacy_transfer.core.transformer.serialization import HFObjects

from .hf_shim import HFShim


@registry.layers("HFWrapper.v1")
def HFWrapper(
    hf_model: HFObjects,
    convert_inputs: Optional[Callable] = None,
    convert_outputs: Optional[Callable] = None,
    mixed_precision: bool = False,
    grad_scaler_config: Optional[Dict[str, Any]] = None,
    config_cls: Any = None,
    model_cls: Any = None,
    tokenizer_cls: Any = None,
) -> Model[Any, Any]:
    """A layer whose shim runs ``hf_model``'s transformer: ``convert_inputs`` turns the layer's
    input into the model's ``ArgsKwargs`` and ``convert_outputs`` its output back (thinc's
    defaults pass tensors through)."""
    shim = HFShim(
        hf_model,
        mixed_precision=mixed_precision,
        grad_scaler_config=grad_scaler_config,
        config_cls=config_cls,
        model_cls=model_cls,
        tokenizer_cls=tokenizer_cls,
    )
    return Model(
        "hf-pytorch",
        pytorch_forward,
        attrs={
            "convert_inputs": convert_inputs or convert_pytorch_default_inputs,
            "convert_outputs": convert_outputs or convert_pytorch_default_outputs,
        },
        shims=[shim],
        dims={"nI": None, "nO": None},
    )


__all__ = ["HFWrapper"]
