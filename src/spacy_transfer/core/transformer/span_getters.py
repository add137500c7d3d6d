"""Span getters: which stretches of each Doc the transformer reads.

A span getter takes a batch of Docs and returns, per Doc, a list of Spans. Spans may
overlap (a token seen in several spans gets every aligned wordpiece row, and pooling
combines them). Spans longer than the model's maximum positions are not truncated:
the model splits them into overlapping wordpiece windows (see ``alignment.py``).
"""

from __future__ import annotations

import functools
from typing import Callable, Iterable, List

from spacy.tokens import Doc, Span

from ...errors import UserError
from ...registry import registry

SpanGetter = Callable[[List[Doc]], List[List[Span]]]


def get_doc_spans(docs: Iterable[Doc]) -> List[List[Span]]:
    """One span per Doc: the whole text."""
    return [[doc[:]] for doc in docs]


def get_sent_spans(docs: Iterable[Doc]) -> List[List[Span]]:
    """One span per sentence (needs sentence boundaries)."""
    out: List[List[Span]] = []
    for doc in docs:
        if len(doc) and not (doc.has_annotation("SENT_START") or doc.has_annotation("DEP")):
            raise UserError(
                "The sent_spans span getter needs sentence boundaries, but a Doc has none",
                hint="Put a 'sentencizer' (or a trained 'senter' or 'parser') before the transformer in "
                "[nlp] pipeline. spacy-transfer train runs it on each training batch by itself; with "
                "'spacy train', also list it in [training] annotating_components. Or use "
                "spacy-transfer.strided_spans.v1 / doc_spans.v1, which need no sentences.",
                rows=[("doc", doc.text[:60])],
            )
        out.append(list(doc.sents) if len(doc) else [doc[:]])
    return out


def get_strided_spans(docs: Iterable[Doc], window: int, stride: int) -> List[List[Span]]:
    """Windows of ``window`` tokens every ``stride`` tokens; the last one ends at the Doc's end."""
    out: List[List[Span]] = []
    for doc in docs:
        n = len(doc)
        spans = []
        start = 0
        while True:
            spans.append(doc[start : start + window])
            if start + window >= n:
                break
            start += stride
        out.append(spans)
    return out


def strided_spans(window: int, stride: int) -> SpanGetter:
    if window < 1 or stride < 1 or stride > window:
        raise UserError(
            f"Bad strided_spans settings: window = {window}, stride = {stride}",
            hint="Use 1 <= stride <= window (e.g. window = 128, stride = 96); a stride larger "
            "than the window would skip tokens.",
            rows=[("get_spans", "window and stride must be positive and stride <= window")],
        )
    # A partial of a module-level function, not a closure: pipelines stay picklable.
    return functools.partial(get_strided_spans, window=window, stride=stride)


def doc_spans() -> SpanGetter:
    return get_doc_spans


def sent_spans() -> SpanGetter:
    return get_sent_spans


registry.span_getters.register("spacy-transfer.doc_spans.v1", func=doc_spans)
registry.span_getters.register("spacy-transfer.sent_spans.v1", func=sent_spans)
registry.span_getters.register("spacy-transfer.strided_spans.v1", func=strided_spans)

__all__ = [
    "SpanGetter",
    "get_doc_spans",
    "get_sent_spans",
    "get_strided_spans",
    "doc_spans",
    "sent_spans",
    "strided_spans",
]
