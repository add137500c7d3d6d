"""Layer control for the encoder, set in the transformer model's config:

- ``freeze_layers = N`` keeps the embeddings and the bottom N layers as they were loaded;
- ``layer_lr_decay = d``: each layer's learning rate is the one of the layer above times
  ``d`` (the top layer and anything above the layers, such as a final norm, at the
  optimizer's rate, the embeddings one step below the bottom layer);
- ``unfreeze_every = K``: gradual unfreezing, top-down: at first only the top layer trains,
  one more joins every K optimizer steps, the embeddings last.

Frozen parameters do not require gradients, so autograd computes none for them (and stops
its backward pass below the lowest trainable layer), and the optimizer, which updates only
parameters that have a gradient, keeps no state for them and never touches them: their
weights stay bit for bit what was loaded. The setting is part of the model's config, so a
saved pipeline is frozen the same way when it is loaded and trained further.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from torch import nn

from ...errors import UserError

_DEPTH_KEYS = ("num_hidden_layers", "n_layers", "num_layers", "n_layer")


def depth(model: Any) -> int:
    config = getattr(model, "config", None)
    for key in _DEPTH_KEYS:
        value = getattr(config, key, None)
        if isinstance(value, int):
            return value
    raise UserError(f"Cannot tell how many layers the encoder {type(model).__name__} has")


def encoder_layers(model: nn.Module, setting: str = "freeze_layers") -> nn.ModuleList:
    """The encoder's list of transformer layers, bottom first: the module list as long as the
    model is deep (``encoder.layer`` for BERT-likes, ``transformer.layer`` for DistilBERT,
    ``layers`` for ModernBERT)."""
    n = depth(model)
    found: List[nn.ModuleList] = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) == n]
    if not found:
        raise UserError(
            f"{setting}: {type(model).__name__} has no list of its {n} layers",
            hint="Its layers share weights (ALBERT) or are laid out in a way spacy-transfer does not know; "
            "leave freeze_layers, layer_lr_decay and unfreeze_every at their defaults, or freeze the whole "
            "transformer with frozen_components.",
        )
    return found[0]


def freeze_bottom(model: nn.Module, n_layers: int) -> None:
    """Freeze the embeddings and the bottom ``n_layers`` layers of ``model`` (0: nothing)."""
    if n_layers == 0:
        return
    total = depth(model)
    if not 0 < n_layers <= total:
        raise UserError(
            f"freeze_layers is {n_layers}, but the encoder has {total} layers",
            rows=[("freeze_layers", str(n_layers)), ("layers", str(total))],
            hint=f"Use a number from 0 (train every layer) to {total} (train none of the encoder's layers).",
        )
    layers = encoder_layers(model)
    embeddings = getattr(model, "embeddings", None) or model.get_input_embeddings()
    for module in [embeddings, *layers[:n_layers]]:
        module.requires_grad_(False)


def layer_index(model: nn.Module) -> Dict[int, int]:
    """``id(parameter) -> layer``: 0 for the embeddings, i + 1 for layer i; parameters
    outside both (a final norm, the pooler) are missing: they count as the top."""
    index: Dict[int, int] = {}
    embeddings = getattr(model, "embeddings", None) or model.get_input_embeddings()
    for p in embeddings.parameters():
        index[id(p)] = 0
    setting = "layer_lr_decay / unfreeze_every"
    for i, layer in enumerate(encoder_layers(model, setting)):
        for p in layer.parameters():
            index[id(p)] = i + 1
    return index


@dataclass(frozen=True)
class LayerControl:
    """``layer_lr_decay`` and ``unfreeze_every`` (``freeze_layers`` acts once, at load)."""

    lr_decay: float = 1.0
    unfreeze_every: int = 0

    @property
    def active(self) -> bool:
        return self.lr_decay != 1.0 or self.unfreeze_every > 0

    def plan(self, model: nn.Module) -> "LayerPlan":
        return LayerPlan(self, model)


def check_control(freeze_layers: int, lr_decay: float, unfreeze_every: int) -> LayerControl:
    """The settings, refused with what is wrong where they cannot work."""
    where = "[components.transformer.model]"
    if isinstance(freeze_layers, bool) or not isinstance(freeze_layers, int) or freeze_layers < 0:
        raise UserError(
            f"freeze_layers must be a whole number of layers, got {freeze_layers!r}",
            rows=[(f"{where} freeze_layers", repr(freeze_layers))],
            hint="Use 0 (train every layer) up to the encoder's depth.",
        )
    if not 0.0 < float(lr_decay) <= 1.0:
        raise UserError(
            f"layer_lr_decay must be in (0, 1], got {lr_decay!r}",
            rows=[(f"{where} layer_lr_decay", repr(lr_decay))],
            hint="1.0 gives every layer the same rate; 0.8-0.95 are usual.",
        )
    if isinstance(unfreeze_every, bool) or not isinstance(unfreeze_every, int) or unfreeze_every < 0:
        raise UserError(
            f"unfreeze_every must be a number of steps (0: off), got {unfreeze_every!r}",
            rows=[(f"{where} unfreeze_every", repr(unfreeze_every))],
        )
    return LayerControl(float(lr_decay), int(unfreeze_every))


class LayerPlan:
    """One encoder's layers as :class:`LayerControl` sees them: each trainable parameter's
    learning-rate scale, and which of them train at a given optimizer step."""

    def __init__(self, control: LayerControl, model: nn.Module) -> None:
        self.control = control
        self.depth = depth(model)
        index = layer_index(model) if control.active else {}
        self.top = self.depth  # the last layer; parameters outside the layers count as it
        self.layer_of: Dict[str, int] = {
            name: index.get(id(p), self.top) for name, p in model.named_parameters() if p.requires_grad
        }
        self.top_names = [name for name, layer in self.layer_of.items() if layer == self.top]

    def lr_scales(self) -> Optional[Dict[str, float]]:
        if self.control.lr_decay == 1.0:
            return None
        d = self.control.lr_decay
        return {name: d ** (self.top - layer) for name, layer in self.layer_of.items()}

    def lowest_training(self, step: int) -> int:
        """The lowest layer that trains at ``step`` (0: the embeddings and every layer)."""
        if self.control.unfreeze_every <= 0:
            return 0
        return max(0, self.top - step // self.control.unfreeze_every)

    def gate(self, model: nn.Module, step: int) -> Tuple[int, int]:
        """Before the optimizer step ``step``: drop the gradients of layers not yet unfrozen,
        and let only the layers that train at the next step require gradients (so
        autograd skips the rest). Returns (layers dropped, lowest layer training)."""
        if self.control.unfreeze_every <= 0:
            return 0, 0
        lowest, upcoming = self.lowest_training(step), self.lowest_training(step + 1)
        dropped = 0
        for name, p in model.named_parameters():
            layer = self.layer_of.get(name)
            if layer is None:
                continue  # frozen by design (freeze_layers, the base under adapters)
            if layer < lowest and p.grad is not None:
                p.grad = None
                dropped += 1
            p.requires_grad_(layer >= upcoming)
        return dropped, lowest


__all__ = [
    "depth",
    "encoder_layers",
    "freeze_bottom",
    "layer_index",
    "LayerControl",
    "LayerPlan",
    "check_control",
]
