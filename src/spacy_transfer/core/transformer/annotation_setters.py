"""Annotation setters: callbacks that the ``transformer`` component runs after it has
set ``doc._.trf_data``; they receive the Docs and the whole-batch
:class:`~.data.FullTransformerBatch` (``batch.doc_data`` has the per-Doc splits)."""

from __future__ import annotations

from typing import Callable, List

from spacy.tokens import Doc

from ...registry import registry
from .data import FullTransformerBatch

AnnotationSetter = Callable[[List[Doc], FullTransformerBatch], None]


def null_annotation_setter(docs: List[Doc], trf_data: FullTransformerBatch) -> None:
    """Set nothing beyond ``doc._.trf_data``."""


def configure_null_annotation_setter() -> AnnotationSetter:
    return null_annotation_setter


registry.annotation_setters.register(
    "spacy-transfer.null_annotation_setter.v1", func=configure_null_annotation_setter
)

__all__ = ["AnnotationSetter", "null_annotation_setter", "configure_null_annotation_setter"]
