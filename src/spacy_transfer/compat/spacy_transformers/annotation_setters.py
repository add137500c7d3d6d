"""spacy-transformers' ``annotation_setters`` module, backed by spacy-transfer; registers its name."""

from spacy_transfer.core.transformer.annotation_setters import (
    configure_null_annotation_setter,
    null_annotation_setter,
)
from spacy_transfer.registry import registry

registry.annotation_setters.register(
    "spacy-transformers.null_annotation_setter.v1", func=configure_null_annotation_setter
)

__all__ = ["null_annotation_setter", "configure_null_annotation_setter"]
