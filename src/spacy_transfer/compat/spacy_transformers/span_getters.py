"""spacy-transformers' ``span_getters`` module, backed by spacy-transfer; registers its names."""

from spacy_transfer.core.transformer.span_getters import (
    doc_spans,
    get_doc_spans,
    get_sent_spans,
    get_strided_spans,
    sent_spans,
    strided_spans,
)
from spacy_transfer.registry import registry

# spacy-transformers' Python names for its registered functions.
configure_get_doc_spans = registry.span_getters.register("spacy-transformers.doc_spans.v1", func=doc_spans)
configure_get_sent_spans = registry.span_getters.register("spacy-transformers.sent_spans.v1", func=sent_spans)
configure_strided_spans = registry.span_getters.register(
    "spacy-transformers.strided_spans.v1", func=strided_spans
)

__all__ = [
    "get_doc_spans",
    "get_sent_spans",
    "get_strided_spans",
    "configure_get_doc_spans",
    "configure_get_sent_spans",
    "configure_strided_spans",
]
