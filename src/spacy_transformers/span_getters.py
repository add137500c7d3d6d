"""spacy-transformers' ``span_getters`` module, backed by spacy-transfer."""

from spacy_transfer.core.transformer.span_getters import (  # noqa: F401
    configure_get_doc_spans,
    configure_get_sent_spans,
    configure_strided_spans,
    get_doc_spans,
    get_sent_spans,
    get_strided_spans,
)

__all__ = [
    "get_doc_spans",
    "get_sent_spans",
    "get_strided_spans",
    "configure_get_doc_spans",
    "configure_get_sent_spans",
    "configure_strided_spans",
]
