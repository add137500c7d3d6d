"""spacy-transformers' ``layers._util``: what ``nlp.replace_listeners`` calls."""

from typing import Any, Dict

from thinc.api import Model, chain

from spacy_transfer.core.transformer.listener import split_trf_batch


def replace_listener(model: Model) -> Model:
    """The layer that takes a listener's place: this transformer, split per Doc."""
    return chain(model, split_trf_batch())


def replace_listener_cfg(
    tok2vec_model_cfg: Dict[str, Any], listener_model_cfg: Dict[str, Any]
) -> Dict[str, Any]:
    """The config of the ``Tok2VecTransformer.v3`` that replaces a listener: the transformer's
    own settings, plus the listener's pooling and gradient factor."""
    result = dict(tok2vec_model_cfg)
    if "TransformerModel" in str(tok2vec_model_cfg.get("@architectures")) and "TransformerListener" in str(
        listener_model_cfg.get("@architectures")
    ):
        result["@architectures"] = "spacy-transformers.Tok2VecTransformer.v3"
        for key in ("pooling", "grad_factor"):
            if key in listener_model_cfg and key not in result:
                result[key] = listener_model_cfg[key]
    return result


__all__ = ["replace_listener", "replace_listener_cfg", "split_trf_batch"]
