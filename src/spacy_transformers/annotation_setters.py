"""spacy-transformers' ``annotation_setters`` module, backed by spacy-transfer."""

from spacy_transfer.core.transformer.annotation_setters import (  # noqa: F401
    configure_null_annotation_setter,
    null_annotation_setter,
)

__all__ = ["null_annotation_setter", "configure_null_annotation_setter"]
