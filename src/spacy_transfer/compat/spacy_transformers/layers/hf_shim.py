"""spacy-transformers' ``layers.hf_shim``: ``HFShim``, thinc's ``PyTorchShim`` holding a
Hugging Face model with its tokenizer (``shim._hfmodel``, an ``HFObjects``), for models that
code builds by hand with ``HFWrapper`` (spacy-transformers' own tests, spacy-wrap).

It saves itself in spacy-transformers 2.0's format (a msgpack map of the model's config,
its weights as safetensors and the tokenizer's files), so the real spacy-transformers reads
what it writes, and reads 2.0's and 1.x's format back without unpickling anything.

The ``transformer`` components that spacy-transfer builds use its own shim
(``spacy_transfer.core.transformer.shim.HFShim``), which runs length-sorted passes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Dict, Optional

import srsly
from spacy.util import make_tempdir  # noqa: F401
from thinc.api import PyTorchGradScaler, PyTorchShim, get_torch_default_device

from spacy_transfer.compat.formats import from_st_message
from spacy_transfer.core.transformer.serialization import HFObjects, auto_classes
from spacy_transfer.core.upstream import set_shim_module


class HFShim(PyTorchShim):
    """A Hugging Face model and tokenizer behind a thinc ``PyTorchShim``."""

    def __init__(
        self,
        model: HFObjects,
        config: Any = None,
        optimizer: Any = None,
        mixed_precision: bool = False,
        grad_scaler_config: Optional[Dict[str, Any]] = None,
        config_cls: Any = None,
        model_cls: Any = None,
        tokenizer_cls: Any = None,
    ) -> None:
        self._hfmodel = model
        self.config_cls, self.model_cls, self.tokenizer_cls = auto_classes(
            (config_cls, model_cls, tokenizer_cls)
        )
        # Gradient scaling follows mixed precision unless the config says otherwise.
        scaler = {"enabled": mixed_precision, **(grad_scaler_config or {})}
        super().__init__(
            model.transformer, config, optimizer, mixed_precision, grad_scaler=PyTorchGradScaler(**scaler)
        )

    def set_hf_objects(self, hf: HFObjects) -> None:
        """Use ``hf``'s model and tokenizer (keeping the configs it was first given)."""
        self._hfmodel = HFObjects(
            hf.tokenizer,
            hf.transformer,
            hf.vocab_file_contents,
            self._hfmodel._init_tokenizer_config,
            self._hfmodel._init_transformer_config,
        )
        set_shim_module(self, hf.transformer)

    def to_bytes(self) -> bytes:
        hf = self._hfmodel
        if hf.transformer is None:
            msg = {"config": {}, "state": b"", "tokenizer": {}}
        else:
            from safetensors.torch import save

            msg = {
                "config": hf.transformer.config.to_dict(),
                "state": save({k: v.contiguous() for k, v in hf.transformer.state_dict().items()}),
                "tokenizer": _tokenizer_files(hf.tokenizer),
            }
        msg["_init_tokenizer_config"] = dict(hf._init_tokenizer_config or {})
        msg["_init_transformer_config"] = dict(hf._init_transformer_config or {})
        return srsly.msgpack_dumps(msg)

    def from_bytes(self, bytes_data: bytes) -> "HFShim":
        msg: Dict[str, Any] = srsly.msgpack_loads(bytes_data)
        tok_cfg = msg.get("_init_tokenizer_config") or {}
        trf_cfg = msg.get("_init_transformer_config") or {}
        if not msg.get("config"):
            self._hfmodel = HFObjects(None, None, None, tok_cfg, trf_cfg)
            return self
        transformer, tokenizer = from_st_message(
            msg, "the saved model", classes=(self.config_cls, self.model_cls, self.tokenizer_cls)
        )
        transformer.to(get_torch_default_device())
        vocab_file = getattr(tokenizer, "vocab_file", None)
        contents = Path(vocab_file).read_bytes() if vocab_file and Path(vocab_file).is_file() else None
        self._hfmodel = HFObjects(tokenizer, transformer, contents, tok_cfg, trf_cfg)
        set_shim_module(self, transformer)
        return self


def _tokenizer_files(tokenizer: Any) -> Dict[str, Any]:
    """The tokenizer's saved files by name, and how to load them (``kwargs``)."""
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        files: Dict[str, Any] = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}
    files["kwargs"] = {"use_fast": bool(getattr(tokenizer, "is_fast", True))}
    return files


__all__ = ["HFShim", "HFObjects", "make_tempdir"]
