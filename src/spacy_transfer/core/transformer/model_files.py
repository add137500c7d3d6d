"""A transformer component's model on disk: the encoders as Hugging Face folders
(``hf<i>/``, safetensors) beside ``thinc.bin`` for the rest of the thinc model; and
spacy-transformers' one-file layout (1.x and 2.x), read as well."""

from __future__ import annotations

import contextlib
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List, Union

import srsly
from thinc.api import Model
from thinc.model import serialize_attr
from thinc.util import convert_recursive, is_xp_array

from ...errors import UserError
from . import serialization
from .shim import HFShim


def hf_shims(model: Model) -> List[HFShim]:
    return [shim for node in model.walk() for shim in node.shims if isinstance(shim, HFShim)]


def save_model_dir(model: Model, path: Union[str, Path]) -> None:
    """``path/hf<i>/`` Hugging Face folders for the encoders, ``path/thinc.bin`` for the rest."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    shims = hf_shims(model)
    for i, shim in enumerate(shims):
        if shim.loaded:
            shim.save_dir(path / f"hf{i}")
    (path / "thinc.bin").write_bytes(model_bytes(model, encoder_weights=False))


BY_REFERENCE = srsly.msgpack_dumps({"by_reference": True})  # the encoder is in hf<i>/ beside it


def model_bytes(model: Model, *, encoder_weights: bool) -> bytes:
    """``model.to_bytes()``, with each encoder's weights inline (``encoder_weights``) or
    left out, as the folder beside it holds them. thinc's ``to_bytes`` calls each shim's
    ``to_bytes()`` with no arguments, so this is its message written with the mode as an
    argument; a test holds it to thinc's own bytes."""
    if encoder_weights:
        return model.to_bytes()

    def shim_bytes(shim: Any) -> bytes:
        return BY_REFERENCE if isinstance(shim, HFShim) else shim.to_bytes()

    msg = _thinc_message(model, shim_bytes)
    msg = convert_recursive(is_xp_array, partial(model.ops.to_numpy, byte_order="<"), msg)
    return srsly.msgpack_dumps(msg)


def _thinc_message(model: Model, shim_bytes: Callable[[Any], bytes]) -> Dict[str, List[Any]]:
    """thinc's ``Model.to_dict`` (nodes, attrs, shims, params in ``walk()`` order)."""
    nodes = list(model.walk())
    index = {node.id: i for i, node in enumerate(nodes)}
    msg: Dict[str, List[Any]] = {"nodes": [], "attrs": [], "params": [], "shims": []}
    for i, node in enumerate(nodes):
        outside = [n for n in node.ref_names if node.has_ref(n) and node.get_ref(n).id not in index]
        if outside:
            raise ValueError(f"Cannot get references: {outside}")
        refs = {n: (index[node.get_ref(n).id] if node.has_ref(n) else None) for n in node.ref_names}
        dims = {d: (node.get_dim(d) if node.has_dim(d) else None) for d in node.dim_names}
        msg["nodes"].append({"index": i, "name": node.name, "dims": dims, "refs": refs})
    for node in nodes:
        attrs = {}
        for name, value in node.attrs.items():
            with contextlib.suppress(TypeError):  # thinc leaves out what it cannot serialize
                attrs[name] = serialize_attr(value, value, name, node)
        msg["attrs"].append(attrs)
    msg["shims"] = [[shim_bytes(shim) for shim in node.shims] for node in nodes]
    msg["params"] = [
        {n: (node.get_param(n) if node.has_param(n) else None) for n in node.param_names} for node in nodes
    ]
    return msg


def load_model_bytes(model: Model, data: bytes, source: str = "the pipeline") -> None:
    """``model.from_bytes`` (our format or spacy-transformers', which has the same thinc
    structure), naming ``source`` in errors."""
    try:
        model.from_bytes(data)
    except UserError as err:
        raise UserError(f"{err.message} ({source})", hint=err.hint, rows=err.rows) from err
    except ValueError as err:  # thinc's "mismatched structure", or msgpack's on bytes that are not a model
        raise UserError(
            f"{source} does not fit this pipeline's transformer model",
            hint="It was saved with another architecture or an unknown spacy-transformers version (1.x and 2.x are read), "
            "by spacy-transfer 0.1, or it is corrupt; retrain, or re-save it with the version that wrote it.",
            rows=[("error", str(err).splitlines()[0][:200] if str(err) else type(err).__name__)],
        ) from err


def load_model_dir(model: Model, path: Union[str, Path]) -> None:
    path = Path(path)
    if path.is_file():  # spacy-transformers 1.x or 2.x writes the model as one file
        load_model_bytes(model, path.read_bytes(), str(path))
        return
    if not (path / "thinc.bin").exists():
        raise UserError(
            f"{path} is not a saved transformer model",
            hint="It should hold thinc.bin and hf0/ (config.json, model.safetensors, tokenizer files), "
            "or be the model file of a pipeline saved by spacy-transformers 1.x or 2.x.",
        )
    model.from_bytes((path / "thinc.bin").read_bytes())
    for i, shim in enumerate(hf_shims(model)):
        folder = path / f"hf{i}"
        if folder.exists():
            shim.set_transformer(*serialization.load_dir(folder))
            if model.ops.device_type == "gpu":
                shim.to_device("gpu", model.ops.device_id)
