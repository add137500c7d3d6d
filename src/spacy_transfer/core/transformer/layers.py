"""Layer control for the encoder: ``freeze_layers = N`` keeps the embeddings and the bottom
N layers as they were loaded.

Frozen parameters do not require gradients, so autograd computes none for them (and stops
its backward pass below the lowest trainable layer), and the optimizer, which updates only
parameters that have a gradient, keeps no state for them and never touches them: their
weights stay bit for bit what was loaded. The setting is part of the model's config, so a
saved pipeline is frozen the same way when it is loaded and trained further.
"""

from __future__ import annotations

from typing import Any, List

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


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The encoder's list of transformer layers, bottom first: the module list as long as the
    model is deep (``encoder.layer`` for BERT-likes, ``transformer.layer`` for DistilBERT,
    ``layers`` for ModernBERT)."""
    n = depth(model)
    found: List[nn.ModuleList] = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) == n]
    if not found:
        raise UserError(
            f"freeze_layers: {type(model).__name__} has no list of its {n} layers to freeze",
            hint="Its layers share weights (ALBERT) or are laid out in a way spacy-transfer does not know; "
            "set freeze_layers = 0, or freeze the whole transformer with frozen_components.",
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


__all__ = ["depth", "encoder_layers", "freeze_bottom"]
