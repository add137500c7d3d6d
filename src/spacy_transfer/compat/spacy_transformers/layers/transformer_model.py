"""spacy-transformers' ``layers.transformer_model``, backed by spacy-transfer.

``TransformerModel`` is spacy-transfer's (length-sorted passes, windows), with
spacy-transformers' accessors (``.transformer``, ``.tokenizer``), attrs (``name``,
``get_spans``, ``set_transformer``, ``flush_cache_chance``, ``logger`` via ``set_logger``)
and alignment rule. ``forward``, ``_convert_transformer_inputs``/``_outputs``,
``set_pytorch_transformer`` and ``HFWrapper`` also run models built by hand in
spacy-transformers' shape: a model whose first layer maps a ``WordpieceBatch`` to a
Hugging Face ``ModelOutput`` and whose ``.tokenizer`` tokenizes (spacy-wrap's classifiers,
spacy-transformers' own test doubles).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple, Union

from spacy.tokens import Doc
from spacy.util import SimpleFrozenDict
from thinc.api import ArgsKwargs, Model, xp2torch

from spacy_transfer.core.transformer import model as core
from spacy_transfer.core.transformer.architectures import with_alignment
from spacy_transfer.core.transformer.data import FullTransformerBatch, WordpieceBatch
from spacy_transfer.core.transformer.debug import set_logger  # noqa: F401
from spacy_transfer.core.transformer.serialization import HFObjects, load_hf_objects

from ..align import get_alignment, get_alignment_via_offset_mapping
from ..truncate import truncate_oversize_splits
from ..util import log_batch_size, log_gpu_memory, maybe_flush_pytorch_cache
from ..util import tokenize as huggingface_tokenize  # the name without the deprecation
from ._util import replace_listener, replace_listener_cfg


class TransformerModel(core.TransformerModel):
    """spacy-transformers' ``TransformerModel``: spacy-transfer's, aligning tokens to
    wordpieces by spacy-transformers' rule (code that builds it by hand gets the alignment
    it got there)."""

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with_alignment(self, "spacy-transformers")
        self.attrs["replace_listener"] = replace_listener
        self.attrs["replace_listener_cfg"] = replace_listener_cfg

    # As in spacy-transformers, a model read from a saved pipeline has no init configs (its
    # tokenizer and encoder come from the saved files): empty and frozen.
    @property
    def _init_tokenizer_config(self) -> Dict[str, Any]:
        return self.attrs["tokenizer_config"] if self._from_name() else SimpleFrozenDict()

    @property
    def _init_transformer_config(self) -> Dict[str, Any]:
        return self.attrs["transformer_config"] if self._from_name() else SimpleFrozenDict()

    def _from_name(self) -> bool:
        shim = core.hf_shim(self)
        return not shim.loaded or shim.origin == "pretrained"


init = core.init


def forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[FullTransformerBatch, Callable]:
    """A TransformerModel's forward; for a model in spacy-transformers' shape, theirs: spans,
    tokenization, alignment, the first layer on the wordpieces, one batch-level output."""
    if model.attrs.get("is_transformer_model"):
        return core.forward(model, docs, is_train)
    return _layered_forward(model, docs, is_train)


def _layered_forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[FullTransformerBatch, Callable]:
    tokenizer = _tokenizer_of(model)
    nested = model.attrs["get_spans"](docs)
    flat = [span for doc_spans in nested for span in doc_spans]
    maybe_flush_pytorch_cache(chance=model.attrs.get("flush_cache_chance", 0))
    logger = model.attrs.get("logger")
    if logger is not None:
        log_gpu_memory(logger, "begin forward")
    encoding = huggingface_tokenize(tokenizer, [span.text for span in flat])
    wordpieces = WordpieceBatch.from_batch_encoding(encoding)
    if logger is not None:
        log_batch_size(logger, wordpieces, is_train)
    if "offset_mapping" in encoding:
        align = get_alignment_via_offset_mapping(flat, encoding["offset_mapping"])
    else:
        align = get_alignment(flat, wordpieces.strings, tokenizer.all_special_tokens)
    wordpieces, align = truncate_oversize_splits(wordpieces, align, tokenizer.model_max_length)
    output, backprop_tensors = model.layers[0](wordpieces, is_train)
    batch = FullTransformerBatch(spans=nested, wordpieces=wordpieces, model_output=output, align=align)

    def backprop(d_batch: FullTransformerBatch) -> List[Doc]:
        backprop_tensors(d_batch.model_output)
        return docs

    return batch, backprop


def _tokenizer_of(model: Model) -> Any:
    """The model's ``.tokenizer``, else its wrapped model's or its ``attrs["hf_model"]``'s."""
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None and model.layers and model.layers[0].shims:
        tokenizer = getattr(getattr(model.layers[0].shims[0], "_hfmodel", None), "tokenizer", None)
    if tokenizer is None and "hf_model" in model.attrs:
        tokenizer = model.attrs["hf_model"].tokenizer
    if tokenizer is None:
        raise ValueError(
            f"The model '{model.name}' has no tokenizer: initialize it or set its transformer first"
        )
    return tokenizer


def _convert_transformer_inputs(
    model: Model, wps: WordpieceBatch, is_train: bool
) -> Tuple[ArgsKwargs, Callable]:
    """``HFWrapper``'s input: the wordpieces as torch tensors on the model's device."""
    device = model.shims[0]._hfmodel.transformer.device
    kwargs = {
        "input_ids": xp2torch(wps.input_ids, device=device),
        "attention_mask": xp2torch(wps.attention_mask, device=device),
    }
    if wps.token_type_ids is not None:
        kwargs["token_type_ids"] = xp2torch(wps.token_type_ids, device=device)
    return ArgsKwargs(args=(), kwargs=kwargs), lambda d_inputs: []


def _convert_transformer_outputs(
    model: Model, inputs_outputs: Tuple[Any, Any], is_train: bool
) -> Tuple[Any, Callable]:
    """``HFWrapper``'s output: the ``ModelOutput`` as it is; its gradient flows in through
    the last hidden state."""
    _, output = inputs_outputs

    def backprop(d_output: Any) -> ArgsKwargs:
        return ArgsKwargs(args=(output.last_hidden_state,), kwargs={"grad_tensors": d_output.values()})

    return output, backprop


def set_pytorch_transformer(model: Model, hf_model: HFObjects) -> None:
    """``attrs["set_transformer"](model, HFObjects)``: use this encoder and tokenizer."""
    if model.attrs.get("is_transformer_model"):
        core.set_transformer(model, hf_model)
        return
    if model.attrs.get("has_transformer"):
        raise ValueError("Cannot set second transformer.")
    model.layers[0].shims[0].set_hf_objects(hf_model)
    model.attrs["has_transformer"] = True
    model.set_dim("nO", hf_model.transformer.config.hidden_size)


def huggingface_from_pretrained(
    source: Union[Path, str],
    tok_config: Dict[str, Any],
    trf_config: Dict[str, Any],
    config_cls: Any = None,
    model_cls: Any = None,
    tokenizer_cls: Any = None,
) -> HFObjects:
    """Tokenizer and model from a hub name or local folder; the classes default to the Auto ones."""
    return load_hf_objects(source, dict(tok_config), dict(trf_config), (config_cls, model_cls, tokenizer_cls))


__all__ = [
    "TransformerModel",
    "HFObjects",
    "huggingface_from_pretrained",
    "huggingface_tokenize",
    "set_pytorch_transformer",
    "set_logger",
    "forward",
    "init",
]
