"""spacy-transformers' saved transformer (1.x: a torch state dict; 2.x: safetensors), read
without unpickling objects, and registered with the core as a foreign shim format, so
``spacy.load`` reads its pipelines and ``migrate`` rewrites them in ours."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import srsly

from ..core.io import is_safetensors
from ..core.transformer.serialization import (
    EMPTY,
    attention_for,
    auto_classes,
    check_tokenizer,
    register_reader,
    write_files,
)
from ..errors import UserError


def is_st_shim_message(msg: Any) -> bool:
    """Whether a shim's msgpack map is spacy-transformers 1.x's HFShim format."""
    return isinstance(msg, dict) and {"config", "state", "tokenizer"} <= set(msg)


def read_st_weights(data: bytes, source: str) -> Dict[str, Any]:
    """The encoder's state dict from a spacy-transformers shim message: safetensors (2.x)
    or a torch state dict (1.x), read with ``weights_only=True`` (tensors only, never
    arbitrary objects)."""
    import io

    import torch

    try:
        if isinstance(data, (bytes, bytearray)) and is_safetensors(bytes(data)):
            from safetensors.torch import load as load_safetensors

            return load_safetensors(bytes(data))
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError; safetensors its own
        raise UserError(
            f"The transformer weights in {source} are neither safetensors nor a readable torch state dict",
            hint="The file is corrupt or was not written by spacy-transformers (2.x writes safetensors, 1.x "
            "torch.save of a state_dict); nothing but tensors is accepted (weights_only=True).",
            rows=[("error", f"{type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}")],
        ) from err


def from_st_message(
    msg: Dict[str, Any], source: str = "the pipeline", classes: Optional[Tuple[Any, Any, Any]] = None
) -> Tuple[Any, Any]:
    """Encoder and tokenizer from a spacy-transformers 1.x or 2.x shim message, without
    unpickling objects (:func:`read_st_weights`); the tokenizer from the files the message
    carries. ``classes``: (config, model, tokenizer) classes instead of the Auto ones."""
    import torch

    AutoConfig, AutoModel, AutoTokenizer = auto_classes(classes)
    tok_files = dict(msg.get("tokenizer") or {})
    tok_kwargs = tok_files.pop("kwargs", {}) or {}
    tok_kwargs.pop("use_fast", None)
    with tempfile.TemporaryDirectory() as tmp:
        srsly.write_json(Path(tmp) / "config.json", msg["config"])
        write_files(tmp, tok_files, f"spacy-transformers data in {source}")
        try:
            config = AutoConfig.from_pretrained(tmp, local_files_only=True)
            model = AutoModel.from_config(config, dtype=torch.float32, **attention_for(config))
            tokenizer = AutoTokenizer.from_pretrained(tmp, local_files_only=True, **tok_kwargs)
        except (OSError, ValueError, KeyError) as err:
            raise UserError(
                f"Could not rebuild the transformer saved by spacy-transformers in {source}",
                hint="The pipeline's config.json or tokenizer files are not ones transformers 5 reads; "
                "re-save it with spacy-transformers 1.4, or retrain.",
                rows=[("error", str(err).splitlines()[0][:200])],
            ) from err
    state = read_st_weights(msg["state"], source)
    _load_state(model, state, source)
    return model, check_tokenizer(tokenizer, source)


def _load_state(model: Any, state: Dict[str, Any], source: str) -> None:
    """Load ``state``; buffers that transformers 5 no longer saves (position ids) may differ,
    weights may not."""
    if not isinstance(state, dict):
        raise UserError(
            f"The transformer weights in {source} are not a state dict", rows=[("type", type(state).__name__)]
        )
    result = model.load_state_dict(state, strict=False)
    buffers = {name for name, _ in model.named_buffers()}
    missing = [k for k in result.missing_keys if k not in buffers]
    unexpected = [k for k in result.unexpected_keys if not k.endswith(("position_ids", "token_type_ids"))]
    if missing or unexpected:
        raise UserError(
            f"The transformer weights in {source} do not fit the model its config describes",
            hint="The pipeline is from an unknown spacy-transformers or transformers version, or corrupt.",
            rows=[
                ("missing", ", ".join(missing[:5]) or "-"),
                ("unexpected", ", ".join(unexpected[:5]) or "-"),
            ],
        )
    model.eval()


def read_st_message(msg: Dict[str, Any], source: str) -> Optional[Tuple[Any, ...]]:
    """The core's foreign reader: (model, tokenizer) from spacy-transformers' message, EMPTY
    for a model it saved before loading weights (an empty config), None for other formats."""
    if not is_st_shim_message(msg):
        return None
    return from_st_message(msg, source) if msg["config"] else EMPTY


register_reader(read_st_message)
