"""``TransformerModel``: a thinc layer ``List[Doc] -> FullTransformerBatch`` around any
Hugging Face encoder that ``AutoModel`` loads.

Why our own shim (``HFShim``) rather than thinc's ``PyTorchShim``: we need the torch
module to be absent until ``initialize``/``from_disk`` (configs resolve without
weights), safetensors instead of ``torch.save`` pickles, ``torch.inference_mode`` for
prediction, bf16 autocast where the GPU supports it, one backward call for many
length-sorted sub-batches, and parameters without gradients to be skipped by the
optimizer (so a listener with ``grad_factor = 0`` or a frozen transformer leaves the
weights bit-identical). The optimizer wiring and gradient scaling follow
``PyTorchShim`` (thinc's optimizer updates each torch parameter by key).

For other tools (masked-LM pretraining, export): :func:`get_hf_model`,
:func:`get_tokenizer`, :func:`set_hf_model` and :func:`save_hf_model` reach the
underlying ``PreTrainedModel`` and tokenizer from a TransformerModel, any model that
contains one (``Tok2VecTransformer``) or a ``transformer`` component.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy
import srsly
from spacy.tokens import Doc
from thinc.api import Model, Optimizer
from thinc.shims import Shim
from thinc.util import torch2xp, xp2torch

from ...errors import UserError
from . import serialization
from .alignment import EncodedBatch, encode_spans
from .data import FullTransformerBatch, TransformerData

DEFAULT_MAX_BATCH_ITEMS = 4096
# Models whose position ids start after the padding index (max positions = n - pad - 1).
_OFFSET_POSITION_MODELS = {
    "roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "longformer", "roberta-prelayernorm",
    "data2vec-text", "mpnet", "ibert", "luke", "markuplm", "xmod", "esm",
}


def max_positions(config: Any, tokenizer: Any) -> int:
    """The longest wordpiece sequence the model takes in one pass."""
    limits = []
    mpe = getattr(config, "max_position_embeddings", None)
    if isinstance(mpe, int) and mpe > 0:
        if getattr(config, "model_type", "") in _OFFSET_POSITION_MODELS:
            mpe -= (getattr(config, "pad_token_id", None) or 0) + 1
        limits.append(mpe)
    tml = getattr(tokenizer, "model_max_length", None)
    if isinstance(tml, int) and 0 < tml < 1_000_000:
        limits.append(tml)
    return min(limits) if limits else 512


@contextlib.contextmanager
def use_torch_params(module: Any, shim_id: int, params: Dict[Any, Any]) -> Iterator[None]:
    """Swap in the optimizer's values (e.g. parameter averages) for a shim's torch
    parameters while the block runs. thinc keys them ``(shim.id, parameter name)``."""
    mine = {key[1]: value for key, value in params.items() if isinstance(key, tuple) and len(key) == 2 and key[0] == shim_id}
    state = dict(module.named_parameters())
    # Reassigning .data leaves the old tensor untouched, so keeping it is backup enough.
    backup = {name: state[name].data for name in mine if name in state}
    for name in backup:
        state[name].data = xp2torch(mine[name], device=state[name].device)
    try:
        yield
    finally:
        for name, data in backup.items():
            state[name].data = data


class HFShim(Shim):
    """Holds the torch encoder and its tokenizer; runs them for :func:`TransformerModel`."""

    def __init__(self, mixed_precision: bool = False, grad_scaler_config: Optional[Dict[str, Any]] = None):
        super().__init__(None, config={"mixed_precision": bool(mixed_precision), "grad_scaler_config": dict(grad_scaler_config or {})})
        self.tokenizer: Any = None
        self.serialize_weights = True  # False while a component writes the weights as files
        self._grad_scaler: Any = None

    # ------------------------------------------------------------------ state
    @property
    def hf_model(self) -> Any:
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def set_transformer(self, hf_model: Any, tokenizer: Any) -> None:
        device = self.device if self.loaded else None
        self._model = hf_model if device is None else hf_model.to(device)
        self.tokenizer = serialization.check_tokenizer(tokenizer, getattr(hf_model.config, "name_or_path", "model"))
        backend = tokenizer.backend_tokenizer
        # Our own windows replace truncation; padding happens per sub-batch.
        backend.no_truncation()
        backend.no_padding()
        self.max_length = max_positions(hf_model.config, tokenizer)
        self.pad_id = _first_int(tokenizer.pad_token_id, 0)
        self.filler_id = _first_int(tokenizer.cls_token_id, tokenizer.bos_token_id, tokenizer.unk_token_id, self.pad_id)

    @property
    def width(self) -> int:
        cfg = self._model.config
        return int(getattr(cfg, "hidden_size", None) or getattr(cfg, "dim"))

    @property
    def device(self) -> Any:
        return next(self._model.parameters()).device

    # ------------------------------------------------------------------ precision
    def _autocast(self) -> Any:
        import torch

        if not (self.cfg["mixed_precision"] and self.device.type == "cuda"):
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast(device_type="cuda", dtype=dtype)

    @property
    def grad_scaler(self) -> Any:
        if self._grad_scaler is None:
            import torch
            from thinc.shims.pytorch_grad_scaler import PyTorchGradScaler

            # Only fp16 needs loss scaling; bf16 has float32's range.
            fp16 = self.cfg["mixed_precision"] and self.device.type == "cuda" and not torch.cuda.is_bf16_supported()
            cfg = {"enabled": fp16, **self.cfg["grad_scaler_config"]}
            cfg["enabled"] = bool(cfg["enabled"]) and fp16
            self._grad_scaler = PyTorchGradScaler(**cfg)
        return self._grad_scaler

    # ------------------------------------------------------------------ running
    def run(self, batch: EncodedBatch, is_train: bool, max_batch_items: int) -> Tuple[List[List[Any]], Callable]:
        """Per-Doc lists of output tensors (torch, float32, rows x width), and a backward function."""
        import torch

        model = self._model
        model.train(is_train)  # dropout only while training
        device = self.device
        rows = batch.rows
        outputs: List[Optional[List[Any]]] = [None] * len(rows)
        grad_ctx = contextlib.nullcontext() if is_train else torch.inference_mode()
        with grad_ctx, self._autocast():
            for group in length_batches([r.ids.shape[0] for r in rows], max_batch_items):
                lengths = [rows[i].ids.shape[0] for i in group]
                ids = numpy.full((len(group), lengths[0]), self.pad_id, dtype="int64")
                mask = numpy.zeros((len(group), lengths[0]), dtype="int64")
                for j, i in enumerate(group):
                    ids[j, : lengths[j]] = rows[i].ids
                    mask[j, : lengths[j]] = 1
                out = model(input_ids=torch.from_numpy(ids).to(device), attention_mask=torch.from_numpy(mask).to(device))
                layers = [out.last_hidden_state]
                if getattr(out, "hidden_states", None) is not None:
                    layers.extend(out.hidden_states)
                if layers[0].dtype != torch.float32:
                    layers = [t.float() for t in layers]
                for j, i in enumerate(group):
                    outputs[i] = [t[j, : lengths[j]] for t in layers]
            doc_tensors = self._assemble(batch, outputs)

        def backward(d_docs: Sequence[Sequence[Optional[Any]]]) -> None:
            tensors, grads = [], []
            for doc_t, doc_d in zip(doc_tensors, d_docs):
                for t, d in zip(doc_t, doc_d):
                    if d is not None and t.shape[0]:
                        tensors.append(t)
                        grads.append(xp2torch(d, device=t.device))
            if not tensors:
                return  # no listener wants to train the transformer: leave .grad untouched
            if self.grad_scaler._enabled:
                grads = self.grad_scaler.scale(grads)
            torch.autograd.backward(tensors, grads)

        return doc_tensors, backward

    def _assemble(self, batch: EncodedBatch, outputs: List[Optional[List[Any]]]) -> List[List[Any]]:
        """Per Doc, its rows in order; rows seen by several windows are averaged."""
        import torch

        n_layers = len(outputs[0]) if outputs else 1
        by_doc: List[List[int]] = [[] for _ in batch.n_rows]
        for i, row in enumerate(batch.rows):
            by_doc[row.doc].append(i)
        width = self.width
        device = self.device
        result = []
        for d, members in enumerate(by_doc):
            if not members:
                result.append([torch.zeros((0, width), device=device) for _ in range(n_layers)])
            elif not batch.windowed[d]:
                if len(members) == 1:
                    result.append(list(outputs[members[0]]))  # type: ignore[arg-type]
                else:
                    result.append([torch.cat([outputs[i][k] for i in members]) for k in range(n_layers)])  # type: ignore[index]
            else:
                targets = numpy.concatenate(
                    [batch.rows[i].targets if batch.rows[i].targets is not None else batch.rows[i].start + numpy.arange(batch.rows[i].ids.shape[0]) for i in members]
                )
                counts = numpy.bincount(targets, minlength=batch.n_rows[d]).astype("float32")
                idx = torch.from_numpy(targets).to(device)
                denom = torch.from_numpy(counts).to(device).unsqueeze(1)
                doc_out = []
                for k in range(n_layers):
                    src = torch.cat([outputs[i][k] for i in members])  # type: ignore[index]
                    summed = torch.zeros((batch.n_rows[d], src.shape[1]), dtype=src.dtype, device=device).index_add(0, idx, src)
                    doc_out.append(summed / denom)
                result.append(doc_out)
        return result

    # ------------------------------------------------------------------ thinc Shim API
    def __call__(self, inputs: Any, is_train: bool) -> Any:  # pragma: no cover - not used through thinc
        raise NotImplementedError("HFShim is driven by TransformerModel's forward")

    def finish_update(self, optimizer: Optimizer) -> None:
        if not self.loaded:
            return
        params = [(name, p) for name, p in self._model.named_parameters() if p.grad is not None]
        if not params:
            return
        scaler = self.grad_scaler
        found_inf = scaler.unscale([p.grad for _, p in params]) if scaler._enabled else False
        if not found_inf:  # skip the step when fp16 gradients overflowed
            for name, p in params:
                param, _ = optimizer((self.id, name), torch2xp(p.data), torch2xp(p.grad))
                p.data = xp2torch(param, device=p.device)
        for _, p in params:
            p.grad = None  # untouched next time unless a listener sends gradients again
        scaler.update()

    @contextlib.contextmanager
    def use_params(self, params: Dict[Any, Any]):
        if not self.loaded:
            yield
            return
        with use_torch_params(self._model, self.id, params):
            yield

    def copy(self) -> "HFShim":
        import copy

        new = copy.deepcopy(self)
        with Shim.global_id_lock:  # a copy is a new set of weights for the optimizer
            Shim.global_id += 1
            new.id = Shim.global_id
        return new

    def to_device(self, device_type: str, device_id: int) -> None:
        if not self.loaded:
            return
        if device_type == "cpu":
            self._model.cpu()
        elif device_type == "gpu":
            self._model.cuda(device_id)
        else:
            raise ValueError(f"Invalid device_type: {device_type}. Try 'cpu' or 'gpu'")

    def to_bytes(self) -> bytes:
        if not self.serialize_weights:
            return srsly.msgpack_dumps({"by_reference": True})
        if not self.loaded:
            return srsly.msgpack_dumps({"empty": True})
        return serialization.to_bytes(self._model, self.tokenizer)

    def from_bytes(self, data: bytes) -> "HFShim":
        msg = srsly.msgpack_loads(data)
        if "hf_files" in msg:
            self.set_transformer(*serialization.from_bytes(data))
        return self


def _first_int(*values: Any) -> int:
    for v in values:
        if isinstance(v, int):
            return v
    return 0


def length_batches(lengths: Sequence[int], max_items: int) -> List[List[int]]:
    """Indices grouped longest first so that rows x longest <= max_items (padding stays small)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: List[List[int]] = []
    for i in order:
        if groups and (len(groups[-1]) + 1) * lengths[groups[-1][0]] <= max_items:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


# ---------------------------------------------------------------------------- the layer


def TransformerModel(
    name: str,
    get_spans: Callable,
    tokenizer_config: Optional[Dict[str, Any]] = None,
    transformer_config: Optional[Dict[str, Any]] = None,
    mixed_precision: bool = False,
    grad_scaler_config: Optional[Dict[str, Any]] = None,
) -> Model[List[Doc], FullTransformerBatch]:
    """A Hugging Face encoder as a thinc layer. Nothing is loaded until ``initialize``
    (from ``name``: hub name or local folder) or ``from_disk``/``from_bytes``."""
    shim = HFShim(mixed_precision, grad_scaler_config)
    return Model(
        "transformer",
        forward,
        init=init,
        shims=[shim],
        dims={"nO": None},
        attrs={
            "name": str(name),
            "get_spans": get_spans,
            "tokenizer_config": dict(tokenizer_config or {}),
            "transformer_config": dict(transformer_config or {}),
            "max_batch_items": DEFAULT_MAX_BATCH_ITEMS,
            "is_transformer_model": True,
        },
    )


def _shim(model: Model) -> HFShim:
    return model.shims[0]  # type: ignore[return-value]


def init(model: Model, X: Any = None, Y: Any = None) -> Model:
    shim = _shim(model)
    if not shim.loaded:
        hf_model, tokenizer = serialization.load_pretrained(model.attrs["name"], model.attrs["tokenizer_config"], model.attrs["transformer_config"])
        shim.set_transformer(hf_model, tokenizer)
        _to_model_device(model)
    model.set_dim("nO", shim.width, force=True)
    return model


def _to_model_device(model: Model) -> None:
    ops = model.ops
    if ops.device_type == "gpu":
        _shim(model).to_device("gpu", ops.device_id)


def forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[FullTransformerBatch, Callable]:
    shim = _shim(model)
    if not shim.loaded:
        raise UserError(
            f"The transformer '{model.attrs['name']}' has no weights yet",
            hint="Call nlp.initialize() (training does this) or load a saved pipeline with spacy.load().",
        )
    docs = list(docs)
    spans = model.attrs["get_spans"](docs)
    encoded = encode_spans(shim.tokenizer.backend_tokenizer, docs, spans, shim.max_length, shim.filler_id)
    doc_tensors, backward = shim.run(encoded, is_train, int(model.attrs["max_batch_items"]))
    xp_ops = model.ops
    doc_data = []
    for i, doc_spans in enumerate(spans):
        align = encoded.aligns[i]
        if xp_ops.device_type == "gpu":
            from thinc.types import Ragged

            align = Ragged(xp_ops.asarray1i(align.dataXd), xp_ops.asarray1i(align.lengths))
        doc_data.append(TransformerData(encoded.wordpieces[i], [torch2xp(t) for t in doc_tensors[i]], align, list(doc_spans)))
    batch = FullTransformerBatch(spans=[list(s) for s in spans], doc_data=doc_data)

    def backprop(d_docs: Sequence[Sequence[Optional[Any]]]) -> List[Doc]:
        backward(d_docs)
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
    raise UserError("No transformer model found", hint="Pass a transformer component, a TransformerModel or a model that contains one.")


def get_hf_model(obj: Any) -> Any:
    """The Hugging Face ``PreTrainedModel`` (a torch module, trained in place by the pipeline)."""
    return _loaded_shim(obj).hf_model


def get_tokenizer(obj: Any) -> Any:
    """The fast Hugging Face tokenizer the transformer uses."""
    return _loaded_shim(obj).tokenizer


def set_hf_model(obj: Any, hf_model: Any, tokenizer: Any = None) -> None:
    """Replace the encoder (e.g. with pretrained/adapted weights); keeps the tokenizer unless given."""
    model = find_transformer_model(obj)
    shim = _shim(model)
    shim.set_transformer(hf_model, tokenizer if tokenizer is not None else shim.tokenizer)
    model.set_dim("nO", shim.width, force=True)


def save_hf_model(obj: Any, path: Union[str, Path]) -> None:
    """Write the encoder and tokenizer as a Hugging Face folder (safetensors)."""
    shim = _loaded_shim(obj)
    serialization.save_dir(shim.hf_model, shim.tokenizer, path)


def _loaded_shim(obj: Any) -> HFShim:
    model = find_transformer_model(obj)
    shim = _shim(model)
    if not shim.loaded:
        raise UserError("The transformer has no weights yet", hint="Call nlp.initialize() or load the pipeline first.")
    return shim


__all__ = [
    "TransformerModel",
    "HFShim",
    "max_positions",
    "length_batches",
    "find_transformer_model",
    "get_hf_model",
    "get_tokenizer",
    "set_hf_model",
    "save_hf_model",
]
