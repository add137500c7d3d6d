"""Transformer embeddings on Hugging Face transformers 5.x: the ``transformer`` component,
``TransformerModel``, listeners, span getters and annotation setters, ``Doc._.trf_data``.

Importing this package registers our names (``spacy-transfer.*``, the factory
``transfer_transformer``); spacy-transformers' names are registered by ``spacy_transfer.compat``.

- :mod:`.component`: the ``transformer`` pipe; :mod:`.listener`: listeners and pooling;
- :mod:`.model`: ``TransformerModel`` (the thinc layer) and access for other tools;
  :mod:`.shim`: ``HFShim``, the encoder inside it; :mod:`.passes`: padded forward passes
  and their assembly per Doc; :mod:`.alignment`: tokens to wordpieces, windows;
- :mod:`.data` and :mod:`.wordpieces`: ``doc._.trf_data`` in spacy-transformers' layout;
- :mod:`.architectures`, :mod:`.span_getters`, :mod:`.annotation_setters`: registered names;
- :mod:`.serialization` (Hugging Face files, spacy-transformers' format),
  :mod:`.model_files` (a component's model folder), :mod:`.migrate`, :mod:`.vectors`
  (contextual Doc/Span/Token vectors), :mod:`.layers` (``freeze_layers``, ``layer_lr_decay``,
  ``unfreeze_every``), :mod:`.adapters` (LoRA with peft; :mod:`.lora_linear` its lean
  layer), :mod:`.mixing` (the all-layers listener's learned mix), :mod:`.fast_dropout` (CPU
  training dropout with fast masks, and the attention that uses it), :mod:`.embedding_grad`
  (embedding gradients in a kept buffer). The encoder's optimizer step (thinc's Adam as fused
  torch kernels) lives beside the optimizer's state, in ``core.state.fused_adam``; its int8
  copy for prediction in ``core.precision``.
"""

from . import annotation_setters, span_getters  # noqa: F401  (register)
from .architectures import replace_listener_cfg, tok2vec_transformer, transformer_listener, transformer_model
from .component import Transformer, make_transformer
from .data import (
    DOC_EXT_ATTR,
    FullTransformerBatch,
    TransformerData,
    WordpieceBatch,
    WordpieceData,
    install_extensions,
)
from .listener import TransformerListener, pool_transformer_data, split_trf_batch
from .model import (
    TransformerModel,
    find_transformer_model,
    get_hf_model,
    get_tokenizer,
    save_hf_model,
    set_hf_model,
)

__all__ = [
    "Transformer",
    "make_transformer",
    "TransformerModel",
    "TransformerListener",
    "TransformerData",
    "FullTransformerBatch",
    "WordpieceBatch",
    "WordpieceData",
    "DOC_EXT_ATTR",
    "install_extensions",
    "pool_transformer_data",
    "split_trf_batch",
    "transformer_model",
    "transformer_listener",
    "tok2vec_transformer",
    "replace_listener_cfg",
    "find_transformer_model",
    "get_hf_model",
    "get_tokenizer",
    "set_hf_model",
    "save_hf_model",
]
