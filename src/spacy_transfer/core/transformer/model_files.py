"""A transformer component's model on disk: the encoders as Hugging Face folders
(``hf<i>/``, safetensors) beside ``thinc.bin`` for the rest of the thinc model; and
spacy-transformers' one-file layout (1.x and 2.x), read as well."""

from __future__ import annotations

from pathlib import Path
from typing import List, Union

from thinc.api import Model

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
    try:
        for shim in shims:
            shim.serialize_weights = False
        (path / "thinc.bin").write_bytes(model.to_bytes())
    finally:
        for shim in shims:
            shim.serialize_weights = True


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
