"""Pretrained weights into a pipeline: ``[initialize] init_tok2vec``, checked.

spaCy loads ``init_tok2vec`` only when the config has a ``[pretraining]`` block, and
thinc's ``from_bytes`` accepts a file whose layers have other names or shapes as long as
the node count matches. :func:`load_init_tok2vec` always loads the file when it is set,
after checking node by node that it was written for this layer, and fails with a table
of the differences otherwise.

Two file formats: a tok2vec layer's thinc bytes (``model{N}.bin`` from
``spacy-transfer pretrain`` or ``spacy pretrain``), and for transformers the encoder's
weights as safetensors (what masked-LM pretraining writes), or its LoRA adapters alone
(pretraining with an adapter): loaded into the config's adapters when it has the same,
merged into the encoder's weights when it has none.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import srsly
from spacy.language import Language
from thinc.api import Config, Model

from ...errors import UserError
from ..io import is_safetensors
from .target import PretrainTarget, find_target

Rows = List[Tuple[str, str]]


def load_init_tok2vec(nlp: Language, config: Optional[Config] = None) -> Optional[Path]:
    """Load ``[initialize] init_tok2vec`` into the layer ``[pretraining]`` names (or the
    pipeline's ``tok2vec``/``transformer`` component when there is no such block).

    Call it after the pipeline is initialized. Returns the file loaded, or None if unset.
    """
    cfg = Config(config if config is not None else nlp.config).interpolate()
    path = (cfg.get("initialize") or {}).get("init_tok2vec")
    if not path:
        return None
    p = Path(path)
    if not p.exists() or p.is_dir():
        raise UserError(
            f"Pretrained weights not found: {p}",
            rows=[("[initialize] init_tok2vec", str(p))],
            hint="Point paths.init_tok2vec at a model{N}.bin or model-last.bin written by 'spacy-transfer pretrain'.",
        )
    pretraining = cfg.get("pretraining") or {}
    component = pretraining.get("component") or default_component(nlp)
    target = find_target(nlp, component, pretraining.get("layer", "") or "")
    load_weights(target, p.read_bytes(), where=str(p))
    return p


def default_component(nlp: Language) -> str:
    for name in ("tok2vec", "transformer"):
        if name in nlp.component_names:
            return name
    raise UserError(
        "[initialize] init_tok2vec is set, but the config does not say which layer the weights belong to",
        rows=[("[nlp] pipeline", ", ".join(nlp.component_names))],
        hint="Add the [pretraining] block the weights were made with (component and layer), "
        "e.g. 'spacy-transfer init fill-config CONFIG CONFIG --pretraining' and set component/layer.",
    )


def load_weights(target: PretrainTarget, data: bytes, *, where: str) -> None:
    """Check that ``data`` was written for ``target`` and load it, else fail with the differences."""
    if is_safetensors(data):
        _load_encoder_weights(target, data, where)
        return
    if target.is_transformer:
        raise UserError(
            f"{where} holds tok2vec weights, but the target ({target.where}) is a transformer",
            hint="Use the model{N}.bin written by masked-LM pretraining of this transformer.",
        )
    try:
        msg = srsly.msgpack_loads(data)
    except Exception:
        msg = None
    if not isinstance(msg, dict) or "nodes" not in msg or "params" not in msg:
        raise UserError(
            f"{where} is not a pretrained weights file",
            rows=[(where, "neither thinc model bytes nor safetensors")],
            hint="Use a model{N}.bin or model-last.bin from 'spacy-transfer pretrain'.",
        )
    rows = compare_layer(target.model, msg)
    if rows:
        raise UserError(
            f"The pretrained weights in {where} do not fit the layer they are loaded into ({target.where})",
            rows=rows,
            header=("layer node", "file vs. config"),
            hint="The tok2vec settings (width, depth, rows, attrs, ...) must be those the weights were pretrained with; "
            "pretrain again with this config, or fix [pretraining] component/layer.",
        )
    target.model.from_bytes(data)


def compare_layer(layer: Model, msg: Dict[str, Any]) -> Rows:
    """Differences between a layer and its serialized form (empty when they fit)."""
    nodes = list(layer.walk())
    if len(msg["nodes"]) != len(nodes):
        return [
            ("(structure)", f"the file has {len(msg['nodes'])} layers, the config's layer has {len(nodes)}")
        ]
    rows: Rows = []
    for i, (node, info, params) in enumerate(zip(nodes, msg["nodes"], msg["params"])):
        label = f"{i}: {node.name}"
        if info.get("name") != node.name:
            rows.append((label, f"layer type '{info.get('name')}' in the file"))
            continue
        for dim, value in (info.get("dims") or {}).items():
            if (
                value is not None
                and node.has_dim(dim)
                and node.get_dim(dim) is not None
                and node.get_dim(dim) != value
            ):
                rows.append((label, f"dimension {dim}: {value} in the file, {node.get_dim(dim)} here"))
        for name, value in (params or {}).items():
            if value is None or not node.has_param(name):
                continue
            here = tuple(node.get_param(name).shape)
            if tuple(value.shape) != here:
                rows.append((label, f"parameter {name}: shape {tuple(value.shape)} in the file, {here} here"))
    return rows[:12]


def _load_encoder_weights(target: PretrainTarget, data: bytes, where: str) -> None:
    if not target.is_transformer:
        raise UserError(
            f"{where} holds transformer weights, but the target ({target.where}) is a tok2vec layer",
            hint="Set [pretraining] component to the transformer component, or use tok2vec weights.",
        )
    import torch
    from safetensors.torch import load

    from ..transformer import adapters
    from ..transformer.model import get_hf_model
    from .adapter_weights import ADAPTER_FILE_FORMAT, load_adapter_file

    encoder = get_hf_model(target.model)
    tensors = load(data)
    metadata = safetensors_metadata(data)
    if metadata.get("format") == ADAPTER_FILE_FORMAT:
        load_adapter_file(encoder, tensors, metadata, where)
        return
    # Under adapters, the base weights have a plain model's names here (the same tensors).
    expected = adapters.plain_state_dict(encoder, merged=False)
    rows: Rows = [(k, "in the file, not in the model") for k in sorted(set(tensors) - set(expected))]
    rows += [
        (k, "in the model, not in the file")
        for k in sorted(set(expected) - set(tensors))
        if not _optional_buffer(k)
    ]
    rows += [
        (k, f"shape {tuple(tensors[k].shape)} in the file, {tuple(expected[k].shape)} here")
        for k in sorted(set(tensors) & set(expected))
        if tensors[k].shape != expected[k].shape
    ]
    if rows:
        raise UserError(
            f"The pretrained encoder weights in {where} do not fit the transformer ({target.where})",
            rows=rows[:12],
            header=("weight", "problem"),
            hint="Load weights pretrained from the same transformer (name / architecture) as this config's.",
        )
    with torch.no_grad():
        for name, tensor in expected.items():
            if name in tensors:
                tensor.copy_(tensors[name].to(tensor.device, tensor.dtype))


def safetensors_metadata(data: bytes) -> Dict[str, str]:
    """The ``__metadata__`` map of safetensors bytes (empty if none)."""
    import json

    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(bytes(data[8 : 8 + n]))
    return dict(header.get("__metadata__") or {})


def _optional_buffer(key: str) -> bool:
    # Buffers such as position_ids are not saved by every version; they are not weights.
    return key.endswith("position_ids") or key.endswith("token_type_ids")
