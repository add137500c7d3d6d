"""spacy-transformers' ``layers._util``: what ``nlp.replace_listeners`` calls."""

from spacy_transfer.core.transformer.architectures import replace_listener, replace_listener_cfg  # noqa: F401
from spacy_transfer.core.transformer.listener import split_trf_batch  # noqa: F401

__all__ = ["replace_listener", "replace_listener_cfg", "split_trf_batch"]
