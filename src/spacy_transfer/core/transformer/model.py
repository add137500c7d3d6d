"""``TransformerModel``: a thinc layer ``List[Doc] -> FullTransformerBatch`` around any
Hugging Face encoder that ``AutoModel`` loads.

The encoder itself lives in :class:`~.shim.HFShim` (why our own shim: see there); the
padded forward passes and their assembly into per-Doc outputs in :mod:`.passes`.

For other tools (masked-LM pretraining, export): :func:`get_hf_model`,
:func:`get_tokenizer`, :func:`set_hf_model` and :func:`save_hf_model` reach the
underlying ``PreTrainedModel`` and tokenizer from a TransformerModel, any model that
contains one (``Tok2VecTransformer``) or a ``transformer`` component; code written for
spacy-transformers reaches them as ``model.transformer`` / ``model.tokenizer``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Ragged
from thinc.util import torch2xp

from ...errors import UserError
from . import debug, serialization
from .adapters import AdapterSpec
from .alignment import DEFAULT_ALIGNMENT, alignment_rule, encode_spans
from .data import FullTransformerBatch, TransformerData, doc_gradients, model_output
from .layers import check_control
from .passes import assemble, length_buckets
from .shim import HFShim, max_positions, use_torch_params

DEFAULT_MAX_BATCH_ITEMS = 4096


class TransformerModel(Model):
    """A Hugging Face encoder as a thinc layer. Nothing is loaded until ``initialize``
    (from ``name``: hub name or local folder) or ``from_disk``/``from_bytes``.

    A subclass only for spacy-transformers' accessors (``.transformer``, ``.tokenizer``):
    it adds no state (``__slots__ = ()``), so thinc's copies keep the class."""

    __slots__ = ()

    def __init__(
        self,
        name: str,
        get_spans: Callable,
        tokenizer_config: Optional[Dict[str, Any]] = None,
        transformer_config: Optional[Dict[str, Any]] = None,
        mixed_precision: bool = False,
        grad_scaler_config: Optional[Dict[str, Any]] = None,
        freeze_layers: int = 0,
        layer_lr_decay: float = 1.0,
        unfreeze_every: int = 0,
        adapter: Optional[AdapterSpec] = None,
    ) -> None:
        shim = HFShim(mixed_precision, grad_scaler_config)
        shim.control = check_control(freeze_layers, layer_lr_decay, unfreeze_every)
        shim.freeze_layers = int(freeze_layers)
        if adapter is not None and not isinstance(adapter, AdapterSpec):
            raise UserError(
                f"The transformer's adapter must be an adapter block, got {type(adapter).__name__}",
                hint='Use [components.transformer.model.adapter] with @adapters = "spacy-transfer.LoRA.v1", or adapter = null.',
            )
        shim.adapter = adapter
        # The encoder sits in a child layer, as in spacy-transformers (TransformerModel >
        # "hf-pytorch"): the same thinc structure, so its saved pipelines load node for node.
        holder: Model = Model("hf-pytorch", _holder_forward, shims=[shim])
        super().__init__(
            "transformer",
            forward,
            init=init,
            layers=[holder],
            dims={"nO": None},
            attrs={
                "name": str(name),
                "get_spans": get_spans,
                "tokenizer_config": dict(tokenizer_config or {}),
                "transformer_config": dict(transformer_config or {}),
                "max_batch_items": DEFAULT_MAX_BATCH_ITEMS,
                "is_transformer_model": True,
                # A name in alignment.ALIGNMENT_RULES. Ours: exact offsets, whitespace falls back
                # to a neighbour; spacy_transfer.compat registers spacy-transformers 1.4's.
                "alignment": DEFAULT_ALIGNMENT,
                "set_transformer": set_transformer,
                # spacy-transformers' knob against CUDA cache fragmentation (GPU only).
                "flush_cache_chance": 0.0,
            },
        )

    @property
    def transformer(self) -> Any:
        """The Hugging Face ``PreTrainedModel`` (None until initialized or loaded)."""
        shim = hf_shim(self)
        return shim.hf_model if shim.loaded else None

    @property
    def tokenizer(self) -> Any:
        """The Hugging Face fast tokenizer (None until initialized or loaded)."""
        shim = hf_shim(self)
        return shim.tokenizer if shim.loaded else None

    @property
    def _init_tokenizer_config(self) -> Dict[str, Any]:
        return self.attrs["tokenizer_config"]

    @property
    def _init_transformer_config(self) -> Dict[str, Any]:
        return self.attrs["transformer_config"]

    def _copy(self, seen: Optional[Dict[int, Any]] = None) -> "TransformerModel":
        copied = super()._copy(seen)
        copied.__class__ = type(self)  # thinc builds a plain Model; the layout is the same
        return copied


def set_transformer(model: Model, hf_objects: Any) -> None:
    """spacy-transformers' ``attrs["set_transformer"](model, HFObjects)``: use this encoder."""
    set_hf_model(model, hf_objects.transformer, hf_objects.tokenizer)


def hf_shim(model: Model) -> HFShim:
    return model.layers[0].shims[0]  # type: ignore[return-value]


def _holder_forward(model: Model, X: Any, is_train: bool) -> Any:
    raise NotImplementedError("the hf-pytorch layer only holds the encoder; TransformerModel runs it")


def init(model: Model, X: Any = None, Y: Any = None) -> Model:
    shim = hf_shim(model)
    if not shim.loaded:
        hf_model, tokenizer = serialization.load_pretrained(
            model.attrs["name"], model.attrs["tokenizer_config"], model.attrs["transformer_config"]
        )
        shim.set_transformer(hf_model, tokenizer, origin="pretrained")
        _to_model_device(model)
    model.set_dim("nO", shim.width, force=True)
    return model


def _to_model_device(model: Model) -> None:
    ops = model.ops
    if ops.device_type == "gpu":
        hf_shim(model).to_device("gpu", ops.device_id)


def forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[FullTransformerBatch, Callable]:
    shim = hf_shim(model)
    if not shim.loaded:
        raise UserError(
            f"The transformer '{model.attrs['name']}' has no weights yet",
            hint="Call nlp.initialize() (training does this) or load a saved pipeline with spacy.load().",
        )
    docs = list(docs)
    # A span without tokens has nothing to align: an empty Doc gets no wordpieces at all
    # (not [CLS] [SEP]), and empty data, as in spacy-transformers.
    spans = [[span for span in doc_spans if len(span)] for doc_spans in model.attrs["get_spans"](docs)]
    encoded = encode_spans(
        shim.tokenizer.backend_tokenizer,
        docs,
        spans,
        shim.spec,
        alignment_rule(model.attrs.get("alignment")),
    )
    debug.before_pass(model.attrs, [r.ids.shape[0] for r in encoded.rows], is_train)
    doc_outputs, backward = shim.run(encoded, is_train, int(model.attrs["max_batch_items"]))
    ops = model.ops
    doc_data = []
    for i, outputs in enumerate(doc_outputs):
        align = encoded.aligns[i]
        if ops.device_type == "gpu":
            align = Ragged(ops.asarray1i(align.dataXd), ops.asarray1i(align.lengths))
        fields = {
            k: [torch2xp(t) for t in v] if isinstance(v, list) else torch2xp(v) for k, v in outputs.items()
        }
        doc_data.append(
            TransformerData.for_spans(
                spans[i],
                wordpieces=encoded.wordpieces[i],
                model_output=model_output(**fields),
                align=align,
            )
        )
    batch = FullTransformerBatch(spans=spans, cached_doc_data=doc_data)

    def backprop(d_docs: Any) -> List[Doc]:
        backward(doc_gradients(d_docs))
        return docs

    return batch, backprop


# ---------------------------------------------------------------------------- access for other tools


def find_transformer_model(obj: Any) -> Model:
    """The TransformerModel inside ``obj``: the layer itself, any model containing it, or a component."""
    model = getattr(obj, "model", obj) if not isinstance(obj, Model) else obj
    if isinstance(model, Model):
        for node in model.walk():
            if node.attrs.get("is_transformer_model"):
                return node
    raise UserError(
        "No transformer model found",
        hint="Pass a transformer component, a TransformerModel or a model that contains one.",
    )


def get_hf_model(obj: Any) -> Any:
    """The Hugging Face ``PreTrainedModel`` (a torch module, trained in place by the pipeline)."""
    return _loaded_shim(obj).hf_model


def get_tokenizer(obj: Any) -> Any:
    """The fast Hugging Face tokenizer the transformer uses."""
    return _loaded_shim(obj).tokenizer


def set_hf_model(obj: Any, hf_model: Any, tokenizer: Any = None) -> None:
    """Replace the encoder (e.g. with pretrained/adapted weights); keeps the tokenizer unless given."""
    model = find_transformer_model(obj)
    shim = hf_shim(model)
    shim.set_transformer(hf_model, tokenizer if tokenizer is not None else shim.tokenizer)
    model.set_dim("nO", shim.width, force=True)


def save_hf_model(obj: Any, path: Union[str, Path]) -> None:
    """Write the encoder and tokenizer as a Hugging Face folder (safetensors)."""
    shim = _loaded_shim(obj)
    shim.save_dir(path)


def _loaded_shim(obj: Any) -> HFShim:
    model = find_transformer_model(obj)
    shim = hf_shim(model)
    if not shim.loaded:
        raise UserError(
            "The transformer has no weights yet", hint="Call nlp.initialize() or load the pipeline first."
        )
    return shim


__all__ = [
    "TransformerModel",
    "use_torch_params",
    "HFShim",
    "max_positions",
    "length_buckets",
    "assemble",
    "find_transformer_model",
    "get_hf_model",
    "get_tokenizer",
    "set_hf_model",
    "save_hf_model",
]
