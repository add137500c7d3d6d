"""spacy-transformers' ``layers.listener``."""

from spacy_transfer.core.transformer.data import TransformerData  # noqa: F401
from spacy_transfer.core.transformer.listener import TransformerListener  # noqa: F401
from spacy_transfer.core.transformer.listener import listener_forward as forward  # noqa: F401

__all__ = ["TransformerListener", "TransformerData", "forward"]
