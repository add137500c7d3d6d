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
from thinc.types import Ragged
from thinc.util import torch2xp, xp2torch

from ...errors import UserError
from .. import precision
from ..upstream import scaler_enabled
from . import serialization
from .alignment import EncodedBatch, encode_spans
from .data import FullTransformerBatch, TransformerData, doc_gradients, model_output

DEFAULT_MAX_BATCH_ITEMS = 4096
# What a Doc keeps of the model output (spacy-transformers' tensors); attentions are dropped.
KEPT_OUTPUTS = ("last_hidden_state", "pooler_output", "hidden_states")
# Models whose position ids start after the padding index (max positions = n - pad - 1).
_OFFSET_POSITION_MODELS = {
    "roberta",
    "xlm-roberta",
    "xlm-roberta-xl",
    "camembert",
    "longformer",
    "roberta-prelayernorm",
    "data2vec-text",
    "mpnet",
    "ibert",
    "luke",
    "markuplm",
    "xmod",
    "esm",
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
    mine = {
        key[1]: value
        for key, value in params.items()
        if isinstance(key, tuple) and len(key) == 2 and key[0] == shim_id
    }
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
        super().__init__(
            None,
            config={
                "mixed_precision": bool(mixed_precision),
                "grad_scaler_config": dict(grad_scaler_config or {}),
            },
        )
        self.tokenizer: Any = None
        self.serialize_weights = True  # False while a component writes the weights as files
        self._grad_scaler: Any = None
        self.quantize: Optional[str] = None  # "int8": CPU prediction through a dynamically quantized copy
        self._quantized: Any = None

    # ------------------------------------------------------------------ state
    @property
    def hf_model(self) -> Any:
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def set_transformer(self, hf_model: Any, tokenizer: Any) -> None:
        self._quantized = None
        device = self.device if self.loaded else None
        self._model = hf_model if device is None else hf_model.to(device)
        self.tokenizer = serialization.check_tokenizer(
            tokenizer, getattr(hf_model.config, "name_or_path", "model")
        )
        backend = tokenizer.backend_tokenizer
        # Our own windows replace truncation; padding happens per sub-batch.
        backend.no_truncation()
        backend.no_padding()
        self.max_length = max_positions(hf_model.config, tokenizer)
        self.pad_id = _first_int(tokenizer.pad_token_id, 0)
        self.filler_id = _first_int(
            tokenizer.cls_token_id, tokenizer.bos_token_id, tokenizer.unk_token_id, self.pad_id
        )
        self.pad_token = str(tokenizer.pad_token or "")
        # spacy-transformers' wordpieces carry token_type_ids where the tokenizer makes them.
        self.with_type_ids = "token_type_ids" in getattr(tokenizer, "model_input_names", [])

    @property
    def width(self) -> int:
        cfg = self._model.config
        return int(getattr(cfg, "hidden_size", None) or cfg.dim)

    @property
    def device(self) -> Any:
        return next(self._model.parameters()).device

    # ------------------------------------------------------------------ precision
    def _autocast(self) -> Any:
        """``mixed_precision``: core.precision's policy (bf16 autocast where the device has
        it, fp16 + scaler on older GPUs, bf16 opt-in on the CPU); weights stay float32."""
        return precision.autocast(self.device.type, self.cfg["mixed_precision"])

    def _predictor(self) -> Any:
        """The module prediction runs: the encoder, or its int8 copy (``quantize = "int8"``, CPU)."""
        if self.quantize != "int8" or self.device.type != "cpu":
            return self._model
        if self._quantized is None:
            import copy
            import warnings

            import torch
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            with warnings.catch_warnings():  # torch points to torchao; the kernels are still there
                warnings.simplefilter("ignore")
                # Per output channel (closer to fp32 than one scale per matrix, as fast). The
                # feed-forward down-projections (more inputs than outputs) stay fp32: their
                # inputs are GELU activations whose outliers one int8 scale per pass cannot hold
                # (measured on a MiniLM tagger + ner: NER F -0.63 with them quantized, -0.22 without).
                model = copy.deepcopy(self._model).eval()
                spec = {
                    name: per_channel_dynamic_qconfig
                    for name, module in model.named_modules()
                    if isinstance(module, torch.nn.Linear) and module.in_features <= module.out_features
                }
                self._quantized = quantize_dynamic(model, spec, dtype=torch.qint8)
        return self._quantized

    @property
    def grad_scaler(self) -> Any:
        if self._grad_scaler is None:
            self._grad_scaler = precision.grad_scaler(
                self.device.type, self.cfg["mixed_precision"], self.cfg["grad_scaler_config"]
            )
        return self._grad_scaler

    # ------------------------------------------------------------------ running
    def run(
        self, batch: EncodedBatch, is_train: bool, max_batch_items: int
    ) -> Tuple[List[Dict[str, Any]], Callable]:
        """Per-Doc model outputs (torch, float32, detached; the layout of :mod:`.data`) and a
        backward function taking per-Doc gradients of ``last_hidden_state``."""
        import torch

        model = self._model if is_train else self._predictor()
        model.train(is_train)  # dropout only while training
        rows = batch.rows
        groups = length_buckets([r.ids.shape[0] for r in rows], max_batch_items)
        where: List[Tuple[int, int]] = [(0, 0)] * len(rows)  # row -> (group, position in group)
        results: List[Dict[str, Any]] = []
        grad_ctx = contextlib.nullcontext() if is_train else torch.inference_mode()
        with grad_ctx, self._autocast():
            for g, group in enumerate(groups):
                for j, i in enumerate(group):
                    where[i] = (g, j)
                results.append(self._forward_group(model, [rows[i].ids for i in group]))
            doc_outputs, counts = assemble(batch, results, where, self.width)

        def backward(d_docs: Sequence[Optional[Any]]) -> None:
            tensors, grads = _group_gradients(batch, results, where, counts, d_docs)
            if not tensors:
                return  # no listener wants to train the transformer: leave .grad untouched
            if scaler_enabled(self.grad_scaler):
                grads = self.grad_scaler.scale(grads)
            torch.autograd.backward(tensors, grads)

        return doc_outputs, backward

    def _forward_group(self, model: Any, seqs: List[numpy.ndarray]) -> Dict[str, Any]:
        """One padded forward pass; the outputs we keep, by ModelOutput key."""
        import torch

        longest = max(x.shape[0] for x in seqs)
        ids = numpy.full((len(seqs), longest), self.pad_id, dtype="int64")
        mask = numpy.zeros((len(seqs), longest), dtype="int64")
        for j, x in enumerate(seqs):
            ids[j, : x.shape[0]] = x
            mask[j, : x.shape[0]] = 1
        device = self.device
        out = model(
            input_ids=torch.from_numpy(ids).to(device), attention_mask=torch.from_numpy(mask).to(device)
        )
        kept: Dict[str, Any] = {}
        for key in KEPT_OUTPUTS:
            value = out.get(key) if hasattr(out, "get") else getattr(out, key, None)
            if value is not None:
                kept[key] = value
        return kept

    # ------------------------------------------------------------------ thinc Shim API
    def __call__(self, inputs: Any, is_train: bool) -> Any:  # pragma: no cover - not used through thinc
        raise NotImplementedError("HFShim is driven by TransformerModel's forward")

    def finish_update(self, optimizer: Optimizer) -> None:
        if not self.loaded:
            return
        from .torch_adam import apply_optimizer  # imports torch, which this module leaves until needed

        if any(p.grad is not None for p in self._model.parameters()):
            self._quantized = None  # the weights change: quantize again when predicting
        apply_optimizer(optimizer, self.id, self._model, self.grad_scaler)

    @contextlib.contextmanager
    def use_params(self, params: Dict[Any, Any]):
        if not self.loaded:
            yield
            return
        self._quantized = None
        try:
            with use_torch_params(self._model, self.id, params):
                yield
        finally:
            self._quantized = None

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
        if not isinstance(msg, dict):
            msg = {}
        if "hf_files" in msg:
            self.set_transformer(*serialization.from_message(msg))
        elif serialization.is_st_shim_message(msg):
            # Written by spacy-transformers 1.x (a Tok2VecTransformer, or a component's model);
            # an empty config is a model saved before its weights were loaded.
            if msg["config"]:
                self.set_transformer(*serialization.from_st_message(msg))
        elif not (msg.get("empty") or msg.get("by_reference")):
            raise UserError(
                "The saved transformer is neither spacy-transfer's nor spacy-transformers 1.x's format",
                hint="Expected the encoder's files (spacy-transfer) or its config, tokenizer files and torch state dict "
                "(spacy-transformers 1.x); the data is corrupt or from an unknown version.",
            )
        return self


def _first_int(*values: Any) -> int:
    for v in values:
        if isinstance(v, int):
            return v
    return 0


def length_buckets(
    lengths: Sequence[int], max_items: int, max_padding: float = 0.1, small: int = 256
) -> List[List[int]]:
    """Row indices grouped longest first into forward passes: each pass has at most
    ``max_items`` padded wordpieces, and at most ``max_padding`` of them are padding unless
    the pass is ``small`` (tiny passes cost their fixed overhead, not their padding)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: List[List[int]] = []
    real = 0
    for i in order:
        if groups:
            longest = lengths[groups[-1][0]]
            padded = (len(groups[-1]) + 1) * longest
            if padded <= max_items and (
                padded <= small or padded <= (1.0 + max_padding) * (real + lengths[i])
            ):
                groups[-1].append(i)
                real += lengths[i]
                continue
        groups.append([i])
        real = lengths[i]
    return groups


def assemble(
    batch: EncodedBatch, results: List[Dict[str, Any]], where: List[Tuple[int, int]], width: int
) -> Tuple[List[Dict[str, Any]], Dict[int, Any]]:
    """Per Doc, its outputs shaped (spans, padded length, width) (pooler: (spans, width)).
    Rows seen by several windows of a long span are averaged; returns those counts too."""
    import torch

    by_doc: List[List[int]] = [[] for _ in batch.wordpieces]
    for i, row in enumerate(batch.rows):
        by_doc[row.doc].append(i)
    if not results:  # no Doc has a span
        return [{} for _ in by_doc], {}
    keys = list(results[0].keys())
    device = results[0]["last_hidden_state"].device
    docs: List[Dict[str, Any]] = []
    counts: Dict[int, Any] = {}
    for d, members in enumerate(by_doc):
        n_spans, length = batch.n_spans(d), batch.padded_length(d)
        if not members:  # a Doc without spans: no outputs (spacy-transformers' TransformerData.empty())
            docs.append({})
            continue
        if len(members) == 1 and n_spans == 1 and not batch.windowed[d]:
            g, j = where[members[0]]
            docs.append({k: _row_view(results[g][k], j, length) for k in keys})
            continue
        out = {k: _zeros_like_output(results[0][k], n_spans, length, width, device) for k in keys}
        if batch.windowed[d]:
            cnt = torch.zeros((n_spans, length), device=device)
            pool_cnt = torch.zeros((n_spans, 1), device=device)
        for i in members:
            row, (g, j) = batch.rows[i], where[i]
            n = row.ids.shape[0]
            for k in keys:
                _place(out[k], results[g][k], j, n, row)
            if row.targets is not None:  # unwindowed spans keep count 0, which divides as 1
                targets = torch.from_numpy(row.targets).to(device)
                cnt[row.span].index_add_(0, targets, torch.ones((n,), device=device))
                pool_cnt[row.span] += 1
        if batch.windowed[d]:
            for k in keys:
                out[k] = _divide(out[k], cnt, pool_cnt)
            counts[d] = cnt
        docs.append(out)
    return docs, counts


def _row_view(value: Any, j: int, length: int) -> Any:
    if isinstance(value, (tuple, list)):
        return [v.detach()[j : j + 1, :length].float() for v in value]
    v = value.detach()[j : j + 1]
    return (v[:, :length] if v.dim() == 3 else v).float()


def _zeros_like_output(value: Any, n_spans: int, length: int, width: int, device: Any) -> Any:
    import torch

    if isinstance(value, (tuple, list)):
        return [torch.zeros((n_spans, length, width), device=device) for _ in value]
    shape = (n_spans, length, width) if value.dim() == 3 else (n_spans, value.shape[-1])
    return torch.zeros(shape, device=device)


def _place(dest: Any, value: Any, j: int, n: int, row: Any) -> None:
    if isinstance(value, (tuple, list)):
        for dst, src in zip(dest, value):
            _place(dst, src, j, n, row)
        return
    src = value.detach()[j].float()
    if src.dim() == 1:  # pooler output: averaged over a long span's windows
        dest[row.span] += src
    elif row.targets is None:
        dest[row.span, :n] += src[:n]
    else:
        import torch

        dest[row.span].index_add_(0, torch.from_numpy(row.targets).to(src.device), src[:n])


def _divide(value: Any, cnt: Any, pool_cnt: Any) -> Any:
    if isinstance(value, list):
        return [_divide(v, cnt, pool_cnt) for v in value]
    if value.dim() == 2:
        return value / pool_cnt.clamp(min=1)
    return value / cnt.clamp(min=1).unsqueeze(-1)


def _group_gradients(
    batch: EncodedBatch,
    results: List[Dict[str, Any]],
    where: List[Tuple[int, int]],
    counts: Dict[int, Any],
    d_docs: Sequence[Optional[Any]],
) -> Tuple[List[Any], List[Any]]:
    """Per forward pass, the gradient of its ``last_hidden_state`` from the per-Doc ones."""
    import torch

    grads: Dict[int, Any] = {}
    d_torch: Dict[int, Any] = {}
    for row, (g, j) in zip(batch.rows, where):
        d = d_docs[row.doc] if row.doc < len(d_docs) else None
        if d is None:
            continue
        out = results[g]["last_hidden_state"]
        if row.doc not in d_torch:
            d_torch[row.doc] = xp2torch(d, device=out.device).to(out.dtype)
        src = d_torch[row.doc][row.span]
        if g not in grads:
            grads[g] = torch.zeros_like(out)
        n = row.ids.shape[0]
        if row.targets is None:  # seen once: its gradient as is
            grads[g][j, :n] = src[:n]
        else:
            targets = torch.from_numpy(row.targets).to(out.device)
            grads[g][j, :n] = src[targets] / counts[row.doc][row.span][targets].clamp(min=1).unsqueeze(-1)
    order = sorted(grads)
    return [results[g]["last_hidden_state"] for g in order], [grads[g] for g in order]


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
    # The encoder sits in a child layer, as in spacy-transformers (TransformerModel >
    # "hf-pytorch"): the same thinc structure, so its saved pipelines load node for node.
    holder: Model = Model("hf-pytorch", _holder_forward, shims=[shim])
    return Model(
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
            # "spacy-transfer": exact offsets, whitespace falls back to a neighbour;
            # "spacy-transformers": 1.4's rule (the old names), so its pipelines give its outputs.
            "alignment": "spacy-transfer",
        },
    )


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
        shim.set_transformer(hf_model, tokenizer)
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
    spans = [list(s) for s in model.attrs["get_spans"](docs)]
    encoded = encode_spans(
        shim.tokenizer.backend_tokenizer,
        docs,
        spans,
        shim.max_length,
        shim.filler_id,
        (shim.pad_id, shim.pad_token),
        shim.with_type_ids,
        st_rules=model.attrs.get("alignment") == "spacy-transformers",
    )
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
            TransformerData(
                wordpieces=encoded.wordpieces[i],
                model_output=model_output(**fields),
                align=align,
                spans=spans[i],
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
    serialization.save_dir(shim.hf_model, shim.tokenizer, path)


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
