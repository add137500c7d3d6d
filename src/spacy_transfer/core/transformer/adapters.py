"""LoRA adapters on the encoder (``[components.transformer.model.adapter]``), with ``peft``.

``@adapters = "spacy-transfer.LoRA.v1"`` resolves to an :class:`AdapterSpec`; the shim puts
the adapters into the encoder when it loads its pretrained weights (peft's
``inject_adapter_in_model``: the encoder stays the same ``PreTrainedModel``, its targeted
``nn.Linear`` modules become LoRA layers), and every other encoder weight stops requiring
gradients. So autograd computes no weight gradients for the base, and the optimizer, which
only updates parameters that got a gradient, keeps state for the adapters alone.

On disk an encoder with adapters is either merged (``merge_adapters = true``, the default:
``W + B·A·alpha/r`` written as a plain Hugging Face model, which predicts at a plain
encoder's speed and loads without peft) or unmerged (the base model plus peft's own
``adapter_config.json`` and ``adapter_model.safetensors`` in its ``adapter/`` folder, which
``PeftModel.from_pretrained`` also reads). Checkpoints for ``--resume`` are always
unmerged (:func:`unmerged_saves`), so a resumed run trains the very same adapters. A merged
pipeline that is trained further gets fresh adapters when training starts.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ...errors import UserError
from ...registry import registry

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_NAME = "default"
PEFT_PREFIX = "base_model.model."  # a PeftModel's names for the wrapped model's weights
INSTALL_HINT = "Install it with: pip install 'spacy-transfer[peft]' (or pip install peft)."

# Every linear map inside the attention and feed-forward blocks (what QLoRA found needed to
# match full fine-tuning; the pooler, unused by spaCy components, is left out). peft matches
# a name when a module's dotted path ends with it.
_BERT_LIKE = ("query", "key", "value", "output.dense", "intermediate.dense")
DEFAULT_TARGETS: Dict[str, Tuple[str, ...]] = {
    "bert": _BERT_LIKE,
    "roberta": _BERT_LIKE,
    "xlm-roberta": _BERT_LIKE,
    "camembert": _BERT_LIKE,
    "electra": _BERT_LIKE,
    "deberta-v2": ("query_proj", "key_proj", "value_proj", "output.dense", "intermediate.dense"),
    "deberta": ("in_proj", "output.dense", "intermediate.dense"),
    "distilbert": ("q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"),
    "albert": ("query", "key", "value", "attention.dense", "ffn", "ffn_output"),
    "modernbert": ("Wqkv", "Wo", "Wi"),
}

_KEEP_UNMERGED: contextvars.ContextVar[bool] = contextvars.ContextVar("keep_unmerged", default=False)


@dataclass(frozen=True)
class AdapterSpec:
    """What ``spacy-transfer.LoRA.v1`` resolves to (the defaults, alpha = r among them, live
    in :func:`lora` alone)."""

    r: int
    alpha: float
    dropout: float
    target_modules: Optional[Tuple[str, ...]]
    merge_adapters: bool
    learn_rate_scale: float
    kind: str = "lora"

    def describe(self) -> str:
        targets = ", ".join(self.target_modules) if self.target_modules else "per architecture"
        return f"LoRA r={self.r} alpha={self.alpha:g} dropout={self.dropout:g} targets: {targets}"


@registry.adapters("spacy-transfer.LoRA.v1")
def lora(
    r: int = 8,
    alpha: Optional[float] = None,
    dropout: float = 0.0,
    target_modules: Optional[List[str]] = None,
    merge_adapters: bool = True,
    learn_rate_scale: float = 1.0,
) -> AdapterSpec:
    """LoRA adapters of rank ``r`` (scaled by ``alpha / r``; ``alpha`` null: ``r``, a scale of 1,
    peft's own default) on ``target_modules`` (null: every linear map of the attention and
    feed-forward blocks of the architecture).

    ``learn_rate_scale``: the adapters train at the optimizer's learning rate times this, the
    heads at the rate itself. LoRA wants a higher rate than full fine-tuning for the heads as
    much as for the adapters, so ``init config --adapter lora`` raises the optimizer's rate
    (5x) and leaves this at 1. Measured in bench_peft (MiniLM, 500 steps, r=8): the whole
    optimizer at 5x gave tag_acc 92.2, LAS 75.0, NER F 54.1 (full fine-tuning at 1x: 90.9, 75.8,
    55.0) where the adapters alone at x4 gave 73.7, 62.8, 23.9; alpha = 2r at 5x was 0.5-3
    points worse (91.4, 72.8, 53.3), and a step twice as large again (10x, or r=16 with
    alpha = 2r) collapsed."""
    where = "[components.transformer.model.adapter]"
    if isinstance(r, bool) or not isinstance(r, int) or r <= 0:
        raise UserError(
            f"LoRA rank r must be a positive integer, got {r!r}",
            rows=[(f"{where} r", repr(r))],
            hint="Use e.g. r = 8 (4-64 are usual; a larger rank trains more weights).",
        )
    if alpha is None:
        alpha = r
    if not alpha > 0:
        raise UserError(f"LoRA alpha must be positive, got {alpha!r}", rows=[(f"{where} alpha", repr(alpha))])
    if not 0.0 <= dropout < 1.0:
        raise UserError(
            f"LoRA dropout must be in [0, 1), got {dropout!r}", rows=[(f"{where} dropout", repr(dropout))]
        )
    if target_modules is not None and (
        isinstance(target_modules, str) or not all(isinstance(t, str) and t for t in target_modules)
    ):
        raise UserError(
            "LoRA target_modules must be a list of module names",
            rows=[(f"{where} target_modules", repr(target_modules))],
            hint='e.g. target_modules = ["query","value"], or null for the architecture\'s default.',
        )
    if not learn_rate_scale > 0:
        raise UserError(
            f"LoRA learn_rate_scale must be positive, got {learn_rate_scale!r}",
            rows=[(f"{where} learn_rate_scale", repr(learn_rate_scale))],
        )
    targets = tuple(target_modules) if target_modules else None
    return AdapterSpec(
        int(r), float(alpha), float(dropout), targets, bool(merge_adapters), float(learn_rate_scale)
    )


def require_peft() -> Any:
    try:
        import peft
    except ImportError:
        raise UserError(
            "LoRA adapters need the peft library, which is not installed", hint=INSTALL_HINT
        ) from None
    return peft


# ---------------------------------------------------------------------------- putting them in


def has_adapters(model: Any) -> bool:
    return any(_is_tuner_layer(m) for m in model.modules())


def _is_tuner_layer(module: Any) -> bool:
    # Without peft installed no module can be one; importing peft only when it is.
    if not hasattr(module, "get_base_layer"):
        return False
    from peft.tuners.tuners_utils import BaseTunerLayer

    return isinstance(module, BaseTunerLayer)


def target_modules(model: Any, spec: AdapterSpec) -> Tuple[str, ...]:
    """The module names LoRA goes on: the spec's, or the architecture's default."""
    if spec.target_modules:
        return spec.target_modules
    model_type = str(getattr(model.config, "model_type", ""))
    if model_type in DEFAULT_TARGETS:
        return DEFAULT_TARGETS[model_type]
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as known

    if model_type in known:
        return tuple(known[model_type])
    raise UserError(
        f"spacy-transfer has no default LoRA target modules for the architecture '{model_type}'",
        rows=[("linear modules", ", ".join(linear_module_names(model)[:24]))],
        hint="Name them in [components.transformer.model.adapter] target_modules, e.g. the attention's "
        "query and value projections.",
    )


def linear_module_names(model: Any) -> List[str]:
    """The encoder's linear modules, with layer numbers written as N (each name once)."""
    import re

    from torch import nn

    names: List[str] = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            generic = re.sub(r"\.\d+\.", ".N.", name)
            if generic not in names:
                names.append(generic)
    return names


def _check_targets(model: Any, targets: Sequence[str]) -> None:
    names = [name for name, _ in model.named_modules()]
    missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
    if missing:
        raise UserError(
            f"The encoder {type(model).__name__} has no module named {', '.join(repr(t) for t in missing)}",
            rows=[
                ("target_modules", ", ".join(targets)),
                ("its linear modules", ", ".join(linear_module_names(model))),
            ],
            hint="Use names (or the ends of names) from the list of its linear modules, or target_modules = null "
            "for the architecture's default.",
        )


def inject(model: Any, spec: AdapterSpec) -> None:
    """Put fresh LoRA adapters into ``model`` (B = 0, so it computes what it did) and freeze the rest."""
    peft = require_peft()
    targets = target_modules(model, spec)
    _check_targets(model, targets)
    config = peft.LoraConfig(
        r=spec.r,
        lora_alpha=spec.alpha,
        lora_dropout=spec.dropout,
        target_modules=list(targets),
        bias="none",
    )
    _put_in(peft, config, model)
    freeze_base(model)


def _put_in(peft: Any, config: Any, model: Any) -> None:
    """peft's injection, with our lean LoRA layer on ``nn.Linear`` (same weights, same math)."""
    from torch import nn

    from ..upstream import peft_use_lora_layer
    from .lora_linear import LeanLoraLinear

    peft_use_lora_layer(config, nn.Linear, LeanLoraLinear)
    peft.inject_adapter_in_model(config, model, adapter_name=ADAPTER_NAME)


def freeze_base(model: Any) -> None:
    """Only the adapters' weights train."""
    for name, param in model.named_parameters():
        param.requires_grad_(_is_adapter_weight(name))


def lr_scales(model: Any, spec: AdapterSpec, base: Optional[Dict[str, float]] = None) -> Dict[str, float]:
    """Per trainable weight name, its learning-rate factor: ``base`` (layer-wise decay) times
    ``learn_rate_scale`` for the adapters."""
    scales = dict(base or {})
    for name, param in model.named_parameters():
        if param.requires_grad and _is_adapter_weight(name):
            scales[name] = scales.get(name, 1.0) * spec.learn_rate_scale
    return scales


def _is_adapter_weight(name: str) -> bool:
    return ".lora_" in name


def adapter_config(model: Any) -> Any:
    """The ``LoraConfig`` the adapters were made with (peft keeps it on the model)."""
    return model.peft_config[ADAPTER_NAME]


def trainable_count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------- saving and loading


@contextlib.contextmanager
def unmerged_saves() -> Iterator[None]:
    """Inside the block, encoders with adapters are saved unmerged whatever the setting
    (checkpoints: a resumed run must continue from the same adapters, not merged weights)."""
    token = _KEEP_UNMERGED.set(True)
    try:
        yield
    finally:
        _KEEP_UNMERGED.reset(token)


def merge_on_save(spec: Optional[AdapterSpec]) -> bool:
    return (spec.merge_adapters if spec is not None else True) and not _KEEP_UNMERGED.get()


def plain_state_dict(model: Any, merged: bool) -> Dict[str, Any]:
    """The encoder's weights under a plain model's names: the base weights, plus each
    adapter's ``B·A·alpha/r`` when ``merged``."""
    import torch

    state = {k.replace(".base_layer", ""): v for k, v in model.state_dict().items() if ".lora_" not in k}
    if merged:
        with torch.no_grad():
            for name, module in model.named_modules():
                if _is_tuner_layer(module) and ADAPTER_NAME in getattr(module, "lora_A", {}):
                    base = module.get_base_layer()
                    delta = module.get_delta_weight(ADAPTER_NAME).to(base.weight.dtype)
                    state[f"{name}.weight"] = base.weight + delta
    return state


def save(model: Any, path: Path, subdir: str, merged: bool) -> None:
    """Write the encoder of ``model`` into ``path`` (config and weights; the caller writes the
    tokenizer): merged into plain weights, or the base plus peft's adapter files in ``subdir``."""
    from safetensors.torch import save_file

    model.save_pretrained(path, state_dict=plain_state_dict(model, merged), safe_serialization=True)
    if merged:
        return
    peft = require_peft()
    folder = Path(path) / subdir
    folder.mkdir(parents=True, exist_ok=True)
    weights = peft.get_peft_model_state_dict(model, adapter_name=ADAPTER_NAME)
    # Named as a PeftModel names them, so PeftModel.from_pretrained(base, folder) reads them.
    save_file(
        {PEFT_PREFIX + k: v.detach().contiguous() for k, v in weights.items()}, str(folder / ADAPTER_WEIGHTS)
    )
    adapter_config(model).save_pretrained(str(folder))


def load(model: Any, path: Path) -> None:
    """Put the adapters saved in ``path`` (peft's files) into ``model``, frozen as in training."""
    peft = require_peft()
    from safetensors.torch import load_file

    try:
        config = peft.LoraConfig.from_pretrained(str(path))
        weights = {k.removeprefix(PEFT_PREFIX): v for k, v in load_file(str(path / ADAPTER_WEIGHTS)).items()}
    except (OSError, ValueError, json.JSONDecodeError) as err:
        raise UserError(
            f"The LoRA adapters saved in {path} cannot be read: {err}",
            hint="The pipeline's files are damaged or incomplete; save it again.",
        ) from None
    _put_in(peft, config, model)
    result = peft.set_peft_model_state_dict(model, weights, adapter_name=ADAPTER_NAME)
    missing = [k for k in getattr(result, "missing_keys", []) if ".lora_" in k]
    if missing or getattr(result, "unexpected_keys", []):
        raise UserError(
            f"The LoRA adapters saved in {path} do not fit the encoder",
            rows=[
                ("missing", ", ".join(missing[:4]) or "-"),
                ("unexpected", ", ".join(result.unexpected_keys[:4]) or "-"),
            ],
            hint="They were saved for another model; save the pipeline again.",
        )
    freeze_base(model)


def merged_copy(model: Any) -> Any:
    """A copy of ``model`` with the adapters merged in and removed: a plain encoder (for
    int8 quantization, which cannot hold LoRA layers)."""
    return merge_in_place(copy.deepcopy(model))


def merge_in_place(model: Any) -> Any:
    """Merge the adapters into ``model``'s weights and put its plain linear layers back."""
    for name, module in list(model.named_modules()):
        if _is_tuner_layer(module) and name:
            module.merge(adapter_names=[ADAPTER_NAME])
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, module.get_base_layer())
    return model


__all__ = [
    "AdapterSpec",
    "lora",
    "DEFAULT_TARGETS",
    "require_peft",
    "has_adapters",
    "inject",
    "freeze_base",
    "target_modules",
    "linear_module_names",
    "trainable_count",
    "lr_scales",
    "unmerged_saves",
    "merge_on_save",
    "plain_state_dict",
    "save",
    "load",
    "merged_copy",
    "merge_in_place",
    "adapter_config",
    "ADAPTER_NAME",
]
