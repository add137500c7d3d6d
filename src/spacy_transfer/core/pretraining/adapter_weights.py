"""LoRA adapters alone in one safetensors file: what masked-LM pretraining with an adapter
writes (``model{N}.bin``), and how ``[initialize] init_tok2vec`` reads it back: into the
training config's own adapters when it has the same ones, else merged into the encoder."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

from ...errors import UserError
from ..transformer.adapters import (
    ADAPTER_NAME,
    adapter_config,
    has_adapters,
    merge_in_place,
    require_peft,
)

ADAPTER_FILE_FORMAT = "spacy-transfer.lora-adapter.v1"


def adapter_file_bytes(model: Any, metadata: Dict[str, str]) -> bytes:
    """The adapters alone as safetensors (what masked-LM pretraining with an adapter writes),
    their LoraConfig in the metadata."""
    from safetensors.torch import save

    peft = require_peft()
    weights = peft.get_peft_model_state_dict(model, adapter_name=ADAPTER_NAME)
    config = adapter_config(model).to_dict()
    config["target_modules"] = sorted(config.get("target_modules") or [])
    meta = {**metadata, "format": ADAPTER_FILE_FORMAT, "lora_config": json.dumps(config, default=str)}
    return save({k: v.detach().cpu().contiguous() for k, v in weights.items()}, metadata=meta)


def load_adapter_file(model: Any, tensors: Dict[str, Any], metadata: Dict[str, str], where: str) -> str:
    """Load adapter weights written by :func:`adapter_file_bytes` into ``model``: into its own
    adapters when it has them ("loaded"), else merged into its weights ("merged")."""
    peft = require_peft()
    if has_adapters(model):
        own = peft.get_peft_model_state_dict(model, adapter_name=ADAPTER_NAME)
        rows = _differences(own, tensors)
        if rows:
            raise UserError(
                f"The LoRA adapters in {where} do not fit the transformer's adapters",
                rows=rows[:12],
                header=("weight", "problem"),
                hint="Use the same adapter settings (r, target_modules) as the pretraining config, "
                "or set adapter = null to merge the pretrained adapters into the encoder.",
            )
        peft.set_peft_model_state_dict(model, tensors, adapter_name=ADAPTER_NAME)
        return "loaded"
    raw = json.loads(metadata.get("lora_config", "{}"))
    config = peft.LoraConfig(
        r=int(raw["r"]),
        lora_alpha=raw["lora_alpha"],
        target_modules=list(raw["target_modules"]),
        use_rslora=bool(raw.get("use_rslora", False)),
    )
    trainable = {name: p.requires_grad for name, p in model.named_parameters()}  # peft freezes the base
    peft.inject_adapter_in_model(config, model, adapter_name=ADAPTER_NAME)
    peft.set_peft_model_state_dict(model, tensors, adapter_name=ADAPTER_NAME)
    merge_in_place(model)
    for name, p in model.named_parameters():
        p.requires_grad_(trainable.get(name, True))
    return "merged"


def _differences(own: Dict[str, Any], theirs: Dict[str, Any]) -> List[Tuple[str, str]]:
    rows = [(k, "in the file, not in the model") for k in sorted(set(theirs) - set(own))]
    rows += [(k, "in the model, not in the file") for k in sorted(set(own) - set(theirs))]
    rows += [
        (k, f"shape {tuple(theirs[k].shape)} in the file, {tuple(own[k].shape)} here")
        for k in sorted(set(own) & set(theirs))
        if tuple(own[k].shape) != tuple(theirs[k].shape)
    ]
    return rows


__all__ = ["ADAPTER_FILE_FORMAT", "adapter_file_bytes", "load_adapter_file"]
