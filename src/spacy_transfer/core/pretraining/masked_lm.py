"""``spacy-transfer.PretrainMaskedLM.v1``: domain-adaptive masked-LM pretraining of a transformer.

The pipeline's own encoder (the ``transformer`` component's Hugging Face model, or the
upstream of a ``TransformerListener``) is put into ``AutoModelForMaskedLM`` in place of
that class's base model, so the masked-LM head trains the very weights the pipeline
uses. The head comes from the checkpoint when it has one, else it is initialized
randomly (seeded); output embeddings stay tied to the input embeddings where the model
ties them.

Masking follows BERT with whole-word masking on spaCy tokens: each spaCy token is picked
with ``mask_prob``; all its wordpieces become the mask token (80%), random wordpieces
(10%) or stay (10%); the loss is cross-entropy on the picked wordpieces. Long docs are
cut into windows of at most ``max_length`` wordpieces (special tokens included).

``model{N}.bin`` holds the encoder's weights as safetensors (averaged parameters when
the optimizer averages); with a LoRA ``adapter`` on the transformer, only the adapters
train and the file holds them alone (a few MB: cheap domain adaptation). ``train`` starts from them through ``paths.init_tok2vec``, as
for tok2vec layers: :func:`~.weights.load_init_tok2vec` checks every tensor's name and
shape against the config's transformer before loading.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, Optimizer
from thinc.shims import Shim

from ...errors import UserError
from .. import precision
from ..transformer.passes import length_buckets
from ..upstream import scaler_enabled, shim_module
from .masking import IGNORE, WordpieceMasker
from .objectives import ShardGradients
from .state_file import canonical_safetensors
from .target import PretrainTarget


@dataclass
class MaskedLMObjectiveFactory:
    """What ``[pretraining.objective]`` resolves to; :meth:`build` makes the objective."""

    mask_prob: float = 0.15
    whole_word: bool = True
    max_length: int = 512

    def __call__(self, vocab: Any, model: Any) -> Any:
        # spaCy's schema wants a callable; only our loop knows how to run this objective.
        raise UserError(
            "spacy-transfer.PretrainMaskedLM.v1 runs only in 'spacy-transfer pretrain'",
            hint="Run 'spacy-transfer pretrain CONFIG OUTPUT', not 'spacy pretrain'.",
        )

    def build(
        self, nlp: Language, target: PretrainTarget, *, dropout: float, seed: Optional[int]
    ) -> "MaskedLMObjective":
        if not target.is_transformer:
            raise UserError(
                f"spacy-transfer.PretrainMaskedLM.v1 needs a transformer, but {target.where} is a tok2vec layer",
                rows=[("[pretraining] component", target.component)],
                hint="Point [pretraining] component at the transformer component, or use spacy.PretrainCharacters.v1 "
                "/ spacy.PretrainVectors.v1 for tok2vec layers.",
            )
        if not 0.0 < self.mask_prob < 1.0:
            raise UserError(
                f"mask_prob must be between 0 and 1, got {self.mask_prob}",
                rows=[("[pretraining.objective] mask_prob", str(self.mask_prob))],
            )
        from ..transformer.model import (
            DEFAULT_MAX_BATCH_ITEMS,
            find_transformer_model,
            get_hf_model,
            get_tokenizer,
            hf_shim,
            max_positions,
        )

        trf_model = find_transformer_model(target.model)
        trf_model.initialize()  # loads the encoder from its `name` if not loaded yet
        encoder, tokenizer = get_hf_model(trf_model), get_tokenizer(trf_model)
        if tokenizer.mask_token_id is None:
            raise UserError(
                f"The tokenizer of '{trf_model.attrs['name']}' has no mask token",
                hint="Masked-LM pretraining needs a tokenizer with a mask token (BERT-, RoBERTa-style models).",
            )
        mlm = masked_lm_module(encoder, str(trf_model.attrs["name"]))
        limit = min(self.max_length, max_positions(encoder.config, tokenizer))
        masker = WordpieceMasker(
            tokenizer, mask_prob=self.mask_prob, whole_word=self.whole_word, max_length=limit, seed=seed
        )
        settings = hf_shim(trf_model).cfg  # the transformer's own precision settings
        shim = TorchModuleShim(mlm, settings["mixed_precision"], settings["grad_scaler_config"])
        shim.adapter = hf_shim(trf_model).adapter
        model = Model("masked-lm", _not_callable, shims=[shim])
        return MaskedLMObjective(
            model=model,
            shim=shim,
            encoder=encoder,
            target=target,
            masker=masker,
            max_batch_items=int(trf_model.attrs.get("max_batch_items", DEFAULT_MAX_BATCH_ITEMS)),
        )


def _not_callable(model: Model, X: Any, is_train: bool) -> Any:  # pragma: no cover
    raise NotImplementedError("The masked-LM network is run by MaskedLMObjective.update")


@registry.architectures("spacy-transfer.PretrainMaskedLM.v1")
def create_pretrain_masked_lm(
    mask_prob: float = 0.15, whole_word: bool = True, max_length: int = 512
) -> MaskedLMObjectiveFactory:
    return MaskedLMObjectiveFactory(mask_prob=mask_prob, whole_word=whole_word, max_length=max_length)


def masked_lm_module(encoder: Any, name: str) -> Any:
    """``AutoModelForMaskedLM`` around ``encoder`` (the head from ``name`` if it has one)."""
    import torch
    from transformers import AutoModelForMaskedLM
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the load report lists the encoder keys we replace anyway
    hf_logging.disable_progress_bar()
    # The head gets its own copy of the config: loading it resets the config's attention to
    # plain sdpa, and the encoder's (with the fast CPU dropout the shim installed) must stay.
    config = copy.deepcopy(encoder.config)
    mlm = None
    with contextlib.suppress(OSError, ValueError, EnvironmentError):
        mlm = AutoModelForMaskedLM.from_pretrained(name, config=config, dtype=torch.float32)
    if mlm is None:
        try:
            mlm = AutoModelForMaskedLM.from_config(config)
        except ValueError as e:
            raise UserError(
                f"transformers has no masked-LM head for the model type '{encoder.config.model_type}'",
                rows=[("transformer", " ".join(str(e).split())[:200])],
                hint="Use an encoder with a masked-LM class (BERT, RoBERTa, XLM-R, DeBERTa, ELECTRA, ...).",
            ) from e
    setattr(mlm, mlm.base_model_prefix, encoder)
    mlm.tie_weights()
    return mlm.to(next(encoder.parameters()).device)


class TorchModuleShim(Shim):
    """A torch module updated by thinc's optimizer (keys ``(shim.id, param name)``).

    Unlike thinc's PyTorchShim it skips parameters without gradients, and ``use_params``
    understands the optimizer's own keys (so averaged weights can be saved)."""

    def __call__(self, inputs: Any, is_train: bool) -> Any:  # pragma: no cover - run by the objective
        raise NotImplementedError

    def __init__(
        self, module: Any, mixed_precision: bool = False, grad_scaler_config: Optional[Dict[str, Any]] = None
    ) -> None:
        super().__init__(
            module,
            config={
                "mixed_precision": bool(mixed_precision),
                "grad_scaler_config": dict(grad_scaler_config or {}),
            },
        )
        self._grad_scaler: Any = None
        self.adapter: Any = None  # the transformer's LoRA settings: its adapters' learning-rate factor

    @property
    def grad_scaler(self) -> Any:
        """thinc's gradient scaler, enabled when the precision policy autocasts to fp16."""
        if self._grad_scaler is None:
            device = next(self._model.parameters()).device.type
            self._grad_scaler = precision.grad_scaler(
                device, self.cfg["mixed_precision"], self.cfg["grad_scaler_config"]
            )
        return self._grad_scaler

    def finish_update(self, optimizer: Optimizer) -> None:
        from ..state.fused_adam import apply_optimizer
        from ..transformer import adapters

        scales = adapters.lr_scales(self._model, self.adapter) if self.adapter is not None else None
        apply_optimizer(optimizer, self.id, self._model, self.grad_scaler, lr_scales=scales)

    @contextlib.contextmanager
    def use_params(self, params: Dict[Any, Any]):
        from ..transformer.model import use_torch_params

        with use_torch_params(self._model, self.id, params):
            yield

    def to_device(self, device_type: str, device_id: int) -> None:
        self._model.to("cpu" if device_type == "cpu" else f"cuda:{device_id}")

    def to_bytes(self) -> bytes:  # pragma: no cover - the loop saves safetensors itself
        raise NotImplementedError("saved by the pretraining loop as safetensors")

    def from_bytes(self, data: bytes) -> "TorchModuleShim":  # pragma: no cover
        raise NotImplementedError


@dataclass
class MaskedLMObjective:
    """Masked-LM training of the pipeline's encoder; same interface as Tok2VecObjective."""

    model: Model
    shim: TorchModuleShim
    encoder: Any
    target: PretrainTarget
    masker: WordpieceMasker
    max_batch_items: int = 4096  # padded wordpieces per pass; build() passes the transformer's setting
    kind: str = "masked-lm"

    def backward(self, docs: List[Doc], keep: Optional[Sequence[int]] = None) -> ShardGradients:
        """Gradients of the docs ``keep`` picks out of the batch (all of them by default).

        Hugging Face's masked-LM loss is the MEAN over the picked wordpieces, so a shard's
        gradient is weighted by its share of the batch's picked wordpieces: the weighted
        sum over ranks is the gradient of the mean over the combined batch (a plain sum
        would scale it by the number of ranks).
        """
        inputs, labels, total = self.masker.mask(docs, keep)
        n_mine = int(sum((lab != IGNORE).sum() for lab in labels))
        share = n_mine / total if total else 0.0
        if n_mine == 0:
            # Nothing picked here (tiny batches, an empty shard): no loss; the batch is
            # stepped on only if another rank's shard had something to learn from.
            return ShardGradients(loss=0.0, grad_weight=0.0, loss_weight=0.0, active=total > 0)
        mlm = shim_module(self.shim)
        mlm.train()
        # Length-sorted passes with bounded padding (the transformer's max_batch_items), each
        # backward at once: only one pass's activations are alive, and short windows are not
        # padded to the longest of the batch. Each pass's mean loss is weighted by its share
        # of the picked wordpieces, so the sum is the mean over the whole shard.
        loss = 0.0
        for group in length_buckets([len(x) for x in inputs], self.max_batch_items):
            loss += self._backward_pass(mlm, [inputs[i] for i in group], [labels[i] for i in group], n_mine)
        return ShardGradients(loss=loss, grad_weight=share, loss_weight=share)

    def _backward_pass(
        self, mlm: Any, inputs: List[numpy.ndarray], labels: List[numpy.ndarray], n_mine: int
    ) -> float:
        """Forward and backward of one padded pass; its weighted loss."""
        import torch

        width = max(len(x) for x in inputs)
        pad = self.masker.tokenizer.pad_token_id or 0
        ids = numpy.full((len(inputs), width), pad, dtype="int64")
        lab = numpy.full((len(inputs), width), IGNORE, dtype="int64")
        mask = numpy.zeros((len(inputs), width), dtype="int64")
        for i, (x, y) in enumerate(zip(inputs, labels)):
            ids[i, : len(x)], lab[i, : len(y)], mask[i, : len(x)] = x, y, 1
        n_here = int((lab != IGNORE).sum())
        if n_here == 0:  # no label in this pass: it adds nothing to the loss or the gradients
            return 0.0
        device = next(mlm.parameters()).device
        # The transformer's own mixed_precision setting, under core.precision's policy; the
        # shim's gradient scaler (enabled for fp16 only) scales the loss and unscales in step.
        autocast = precision.autocast(device.type, self.shim.cfg["mixed_precision"])
        # Logits only where a label is: the hidden rows of picked wordpieces go to the head
        # (a hook on the encoder), not the whole (windows x length x vocabulary) block.
        picked = torch.from_numpy(lab != IGNORE).to(device)

        def keep_picked(module: Any, args: Any, output: Any) -> Any:
            output["last_hidden_state"] = output["last_hidden_state"][picked].unsqueeze(0)
            return output

        hook = mlm.base_model.register_forward_hook(keep_picked)
        try:
            with autocast:
                out = mlm(
                    input_ids=torch.from_numpy(ids).to(device),
                    attention_mask=torch.from_numpy(mask).to(device),
                    labels=torch.from_numpy(lab[lab != IGNORE]).to(device).unsqueeze(0),
                )
        finally:
            hook.remove()
        weighted = out.loss * (n_here / n_mine)
        scaler = self.shim.grad_scaler
        (scaler.scale(weighted) if scaler_enabled(scaler) else weighted).backward()
        return float(weighted.detach().cpu())

    def step(self, optimizer: Optimizer) -> None:
        """Apply the (combined) gradients."""
        self.model.finish_update(optimizer)

    def weights_bytes(self, optimizer: Optimizer) -> bytes:
        """The encoder's weights (averaged if the optimizer averages) as safetensors."""
        from safetensors.torch import save

        metadata = {
            "format": "spacy-transfer.encoder-weights.v1",
            "model_type": str(self.encoder.config.model_type),
        }
        from ..transformer.adapters import has_adapters
        from .adapter_weights import adapter_file_bytes

        with self.shim.use_params(optimizer.averages or {}):  # serialized inside: no copy of the weights
            if has_adapters(self.encoder):  # domain adaptation with LoRA: the adapters alone
                data = adapter_file_bytes(self.encoder, metadata)
            else:
                tensors = {k: v.detach().cpu().contiguous() for k, v in self.encoder.state_dict().items()}
                data = save(tensors, metadata=metadata)
        return canonical_safetensors(data)  # same weights, same bytes (resume equality)

    def load_weights(self, data: bytes, *, where: str) -> None:
        from .weights import load_weights

        load_weights(self.target, data, where=where)
