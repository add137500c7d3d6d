"""``HFShim``: holds a Hugging Face encoder and its tokenizer inside a thinc model.

Why our own shim rather than thinc's ``PyTorchShim``: the torch module must be absent until
``initialize``/``from_disk`` (configs resolve without weights), saved as safetensors rather
than ``torch.save`` pickles, run under ``torch.inference_mode`` for prediction and in bf16
where the device has it (autocast; CPU prediction a bf16 copy), backward once for many
length-sorted passes, and parameters without gradients skipped by the optimizer (so a
listener with ``grad_factor = 0`` or a frozen transformer leaves the weights bit-identical).
The optimizer wiring and gradient scaling follow ``PyTorchShim`` (thinc's optimizer updates
each torch parameter by key).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy
import srsly
from thinc.api import Optimizer
from thinc.shims import Shim
from thinc.util import xp2torch

from ...errors import UserError
from .. import precision
from ..devices import torch_threads_after_fork
from ..memory import release_free_heap
from ..upstream import scaler_enabled
from . import adapters, serialization
from .adapters import AdapterSpec
from .alignment import EncodedBatch, TokenizerSpec
from .layers import LayerControl, LayerPlan
from .pass_cost import PassCost
from .passes import assemble, backward_pairs, plan_passes

# CPU inference passes hold at most this many padded wordpieces, whatever max_batch_items
# says: bigger ones ran no faster on the CPU (EWT dev at nlp.pipe batch 1000, MiniLM, 2
# threads: 4096 vs 1024, same words/s within noise), and their activations raised peak RSS
# by ~45 MiB. Training and the GPU keep max_batch_items.
CPU_INFERENCE_PASS_ITEMS = 1024
RELEASE_ABOVE = 32 * 1024 * 1024  # free heap bytes kept between CPU inference passes
# What a Doc keeps of the model output (spacy-transformers' tensors); hidden states and
# attentions only come when transformer_config asks for them (output_hidden_states, ...).
KEPT_OUTPUTS = ("last_hidden_state", "pooler_output", "hidden_states", "attentions")
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


def tokenizer_spec(config: Any, tokenizer: Any) -> TokenizerSpec:
    """The :class:`~.alignment.TokenizerSpec` of a Hugging Face model's config and fast tokenizer."""
    pad_id = _first_int(tokenizer.pad_token_id, 0)
    return TokenizerSpec(
        max_length=max_positions(config, tokenizer),
        filler_id=_first_int(tokenizer.cls_token_id, tokenizer.bos_token_id, tokenizer.unk_token_id, pad_id),
        pad_id=pad_id,
        pad_token=str(tokenizer.pad_token or ""),
        # spacy-transformers' wordpieces carry token_type_ids where the tokenizer makes them.
        with_type_ids="token_type_ids" in getattr(tokenizer, "model_input_names", []),
    )


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

    # Follows core.precision on the CPU too (bf16 autocast, opt-in), unlike thinc's PyTorchShim;
    # core.devices reads this to tell the user which precision each layer runs in.
    autocasts_on_cpu = True

    def __init__(self, mixed_precision: bool = False, grad_scaler_config: Optional[Dict[str, Any]] = None):
        super().__init__(
            None,
            config={
                "mixed_precision": bool(mixed_precision),
                "grad_scaler_config": dict(grad_scaler_config or {}),
            },
        )
        self.tokenizer: Any = None
        self.spec: Optional[TokenizerSpec] = None  # set with the tokenizer
        # "pretrained": loaded by name in initialize; "saved": from a pipeline's files (or set by code).
        self.origin: Optional[str] = None
        self._grad_scaler: Any = None
        self.quantize: Optional[str] = None  # "int8": CPU prediction through a dynamically quantized copy
        self._predict_copy: Any = None  # CPU prediction's int8 or bf16 copy of the encoder
        self.freeze_layers = 0  # the embeddings and this many bottom layers keep their weights (.layers)
        self.control = LayerControl()  # layer_lr_decay, unfreeze_every (.layers)
        self.adapter: Optional[AdapterSpec] = None  # LoRA (.adapters)
        self._adapters_in = False  # whether the encoder holds the adapters now
        self._plan: Optional[LayerPlan] = None
        self._lr_scales: Optional[Dict[str, float]] = None  # per weight name (.layers, .adapters)
        self._pass_cost: Optional[PassCost] = None  # CPU inference's plan (.pass_cost), per predictor

    # ------------------------------------------------------------------ state
    @property
    def hf_model(self) -> Any:
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def set_transformer(self, hf_model: Any, tokenizer: Any, origin: str = "saved") -> None:
        from ..bf16 import grid_rows  # these import torch, which this module leaves until needed
        from . import embedding_grad
        from .fast_dropout import install

        self.origin = origin
        self._predict_copy = self._pass_cost = None
        device = self.device if self.loaded else None
        grid_rows(hf_model, on=self.cfg["mixed_precision"])  # for CPU bf16 training (core.bf16)
        install(hf_model)  # CPU training masks drawn fast; prediction unchanged
        embedding_grad.install(hf_model)  # CPU training: the tables' gradients in kept buffers
        self._adapters_in = adapters.has_adapters(hf_model)  # loaded unmerged
        if self.adapter is not None and origin == "pretrained" and not self._adapters_in:
            adapters.inject(hf_model, self.adapter)
            self._adapters_in = True
        # Now, so that an encoder the settings cannot apply to is refused at load time.
        self._settle_layers(hf_model)
        self._model = hf_model if device is None else hf_model.to(device)
        self.tokenizer = serialization.check_tokenizer(
            tokenizer, getattr(hf_model.config, "name_or_path", "model")
        )
        backend = tokenizer.backend_tokenizer
        # Our own windows replace truncation; padding happens per sub-batch.
        backend.no_truncation()
        backend.no_padding()
        self.spec = tokenizer_spec(hf_model.config, tokenizer)

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
        """The encoder, or on the CPU its int8 or bf16 copy, as core.precision decides."""
        cpu = self.device.type == "cpu"
        kind = precision.cpu_predictor(self.quantize, self.cfg["mixed_precision"]) if cpu else None
        if kind is None:
            return self._model
        if self._predict_copy is None:  # int8 modules cannot hold LoRA layers: the merged encoder
            import copy

            plain = (adapters.merged_copy if self._adapters_in else copy.deepcopy)(self._model)
            self._predict_copy = precision.predictor_copy(plain, kind)
            self._pass_cost = None  # the copy's passes cost otherwise: measure them again
        return self._predict_copy

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

        torch_threads_after_fork()
        if is_train and self.adapter is not None and not self._adapters_in:
            self._start_adapters()  # a merged pipeline trained further: fresh adapters
        model = self._model if is_train else self._predictor()
        model.train(is_train)  # dropout only while training
        rows = batch.rows
        cpu_inference = not is_train and str(self.device) == "cpu"
        if cpu_inference:
            max_batch_items = min(max_batch_items, CPU_INFERENCE_PASS_ITEMS)
        lengths = [r.ids.shape[0] for r in rows]
        cost = self.pass_cost if cpu_inference else None
        groups = plan_passes(lengths, max_batch_items, cost.overhead if cost is not None else None)
        where: List[Tuple[int, int]] = [(0, 0)] * len(rows)  # row -> (group, position in group)
        results: List[Dict[str, Any]] = []
        grad_ctx = contextlib.nullcontext() if is_train else torch.inference_mode()
        # A predictor copy runs in its own precision (bf16 or int8): no autocast around it.
        with grad_ctx, self._autocast() if model is self._model else contextlib.nullcontext():
            for g, group in enumerate(groups):
                for j, i in enumerate(group):
                    where[i] = (g, j)
                started = time.perf_counter()
                results.append(self._forward_group(model, [rows[i].ids for i in group]))
                if cost is not None:  # longest first: the first row's length is the pass's
                    cost.observe(len(group) * lengths[group[0]], time.perf_counter() - started)
                if cpu_inference:  # a pass's freed activations go back before the next one
                    release_free_heap(above=RELEASE_ABOVE)  # (core.memory); training keeps them
            doc_outputs, counts = assemble(batch, results, where, self.width)

        def backward(d_docs: Sequence[Optional[Any]]) -> None:
            tensors, grads = backward_pairs(batch, results, where, counts, d_docs)
            # Outputs of an encoder frozen throughout (freeze_layers = its depth) carry no graph.
            kept = [(t, g) for t, g in zip(tensors, grads) if t.requires_grad]
            if not kept:
                return  # nothing to train in the transformer: leave .grad untouched
            tensors, grads = [t for t, _ in kept], [g for _, g in kept]
            if scaler_enabled(self.grad_scaler):
                grads = self.grad_scaler.scale(grads)
            torch.autograd.backward(tensors, grads)

        return doc_outputs, backward

    @property
    def pass_cost(self) -> PassCost:
        """The fixed cost of one CPU inference pass, in wordpieces' time (:mod:`.pass_cost`)."""
        if self._pass_cost is None:
            self._pass_cost = PassCost()
        return self._pass_cost

    def _start_adapters(self) -> None:
        adapters.inject(self._model, self.adapter)  # type: ignore[arg-type]
        self._adapters_in = True
        self._settle_layers(self._model)
        self._predict_copy = None

    def _settle_layers(self, model: Any) -> None:
        """Freeze the bottom layers, then fix once what the optimizer step reads each time:
        the layer plan and the learning-rate factor of every weight that can train."""
        from .layers import freeze_bottom

        freeze_bottom(model, self.freeze_layers)
        self._plan = self.control.plan(model) if self.control.active else None
        scales = self._plan.lr_scales() if self._plan is not None else None
        if self._adapters_in and self.adapter is not None and self.adapter.learn_rate_scale != 1.0:
            scales = adapters.lr_scales(model, self.adapter, scales)
        self._lr_scales = scales

    def layer_plan(self) -> Optional[LayerPlan]:
        """How ``layer_lr_decay`` and ``unfreeze_every`` apply to this encoder (None: off)."""
        return self._plan if self.loaded else None

    def encoder_updates(self, optimizer: Optimizer, plan: LayerPlan) -> int:
        """How many optimizer steps have updated the top layer: the clock of gradual unfreezing
        (thinc's optimizer counts updates per weight, and checkpoints keep the counts)."""
        return max((int(optimizer.nr_update.get((self.id, name), 0)) for name in plan.top_names), default=0)

    def _forward_group(self, model: Any, seqs: List[numpy.ndarray]) -> Dict[str, Any]:
        """One padded forward pass; the outputs we keep, by ModelOutput key."""
        import torch

        longest = max(x.shape[0] for x in seqs)
        ids = numpy.full((len(seqs), longest), self.spec.pad_id, dtype="int64")
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
        from ..state.fused_adam import apply_optimizer  # imports torch, which this module leaves until needed

        if any(p.grad is not None for p in self._model.parameters()):
            self._predict_copy = None  # the weights change: copy again when predicting
        plan = self.layer_plan()
        if plan is not None:
            plan.gate(self._model, self.encoder_updates(optimizer, plan))
        apply_optimizer(optimizer, self.id, self._model, self.grad_scaler, lr_scales=self._lr_scales)

    @contextlib.contextmanager
    def use_params(self, params: Dict[Any, Any]):
        if not self.loaded:
            yield
            return
        self._predict_copy = None
        try:
            with use_torch_params(self._model, self.id, params):
                yield
        finally:
            self._predict_copy = None

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
        """The encoder inline (``nlp.to_bytes()``); ``to_disk`` writes it as a folder instead
        (:func:`.model_files.model_bytes`)."""
        if not self.loaded:
            return srsly.msgpack_dumps({"empty": True})
        return serialization.to_bytes(self._model, self.tokenizer, merge_adapters=self.merge_on_save())

    def merge_on_save(self) -> bool:
        """Whether a save now writes the adapters merged into the encoder (.adapters)."""
        return adapters.merge_on_save(self.adapter)

    def save_dir(self, path: Any) -> None:
        serialization.save_dir(self._model, self.tokenizer, path, merge_adapters=self.merge_on_save())

    def from_bytes(self, data: bytes) -> "HFShim":
        msg = srsly.msgpack_loads(data)
        if not isinstance(msg, dict):
            msg = {}
        if "hf_files" in msg:
            self.set_transformer(*serialization.from_message(msg))
        elif not (msg.get("empty") or msg.get("by_reference")):
            found = serialization.read_foreign(msg)
            if found is None:
                raise UserError(
                    "The saved transformer is neither spacy-transfer's nor spacy-transformers' format",
                    hint="Expected the encoder's files (spacy-transfer) or its config, tokenizer files and weights "
                    "(spacy-transformers 1.x or 2.x); the data is corrupt or from an unknown version.",
                )
            if found is not serialization.EMPTY:  # another library's model saved before its weights
                self.set_transformer(*found)
        return self


def _first_int(*values: Any) -> int:
    return next((v for v in values if isinstance(v, int)), 0)
