"""spacy-transformers' ``layers`` package, backed by spacy-transfer, with 1.4's submodules
(``transformer_model``, ``listener``, ``split_trf``, ``trfs2arrays``, ``hf_shim``, ``hf_wrapper``,
``_util``).

``trfs2arrays(pooling, grad_factor)`` is our ``pool_transformer_data``: the same
pooling over ``tensors[0]`` rows that ``align`` points to.
"""

from spacy_transfer.core.transformer.listener import TransformerListener, split_trf_batch  # noqa: F401
from spacy_transfer.core.transformer.listener import pool_transformer_data as trfs2arrays  # noqa: F401

from .transformer_model import TransformerModel  # noqa: F401

__all__ = ["TransformerListener", "TransformerModel", "split_trf_batch", "trfs2arrays"]
