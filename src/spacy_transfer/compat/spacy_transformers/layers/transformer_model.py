"""spacy-transformers' ``layers.transformer_model``, backed by spacy-transfer.

``TransformerModel`` has 1.4's accessors (``.transformer``, ``.tokenizer``) and attrs
(``name``, ``get_spans``, ``set_transformer``, ``flush_cache_chance``, ``logger`` via
``set_logger``); ``huggingface_from_pretrained`` returns ``HFObjects`` as in 1.4.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Union

from spacy_transfer.core.transformer.architectures import with_alignment
from spacy_transfer.core.transformer.data import FullTransformerBatch, WordpieceBatch  # noqa: F401
from spacy_transfer.core.transformer.debug import set_logger  # noqa: F401
from spacy_transfer.core.transformer.model import TransformerModel as _TransformerModel
from spacy_transfer.core.transformer.model import forward, init  # noqa: F401
from spacy_transfer.core.transformer.model import set_transformer as set_pytorch_transformer  # noqa: F401
from spacy_transfer.core.transformer.serialization import HFObjects, load_hf_objects

from ..align import get_alignment, get_alignment_via_offset_mapping  # noqa: F401
from ..truncate import truncate_oversize_splits  # noqa: F401
from ..util import log_batch_size, log_gpu_memory, maybe_flush_pytorch_cache  # noqa: F401
from ..util import tokenize as huggingface_tokenize  # noqa: F401  (the name without the deprecation)
from ._util import replace_listener, replace_listener_cfg  # noqa: F401


class TransformerModel(_TransformerModel):
    """spacy-transformers' ``TransformerModel``: spacy-transfer's, aligning tokens to
    wordpieces by spacy-transformers' rule (code that builds it by hand gets the alignment
    it got there)."""

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with_alignment(self, "spacy-transformers")
        self.attrs["replace_listener"] = replace_listener
        self.attrs["replace_listener_cfg"] = replace_listener_cfg


def huggingface_from_pretrained(
    source: Union[Path, str],
    tok_config: Dict[str, Any],
    trf_config: Dict[str, Any],
    config_cls: Any = None,
    model_cls: Any = None,
    tokenizer_cls: Any = None,
) -> HFObjects:
    """Tokenizer and encoder from a hub name or local folder; the classes default to the Auto ones."""
    return load_hf_objects(source, dict(tok_config), dict(trf_config), (config_cls, model_cls, tokenizer_cls))


__all__ = [
    "TransformerModel",
    "HFObjects",
    "huggingface_from_pretrained",
    "huggingface_tokenize",
    "set_pytorch_transformer",
    "set_logger",
    "forward",
    "init",
]
