"""Span getters and annotation setters are registered under our names and spacy-transformers'."""

from __future__ import annotations

import pytest
import spacy
from spacy.tokens import Doc

from spacy_transfer.core.transformer.span_getters import (
    get_doc_spans,
    get_sent_spans,
    get_strided_spans,
    strided_spans,
)
from spacy_transfer.errors import UserError
from spacy_transfer.registry import registry


@pytest.mark.parametrize("prefix", ["spacy-transfer", "spacy-transformers"])
def test_names_are_registered(prefix):
    for name in ("doc_spans", "sent_spans", "strided_spans"):
        assert registry.span_getters.get(f"{prefix}.{name}.v1")
    assert registry.annotation_setters.get(f"{prefix}.null_annotation_setter.v1")


def test_strided_spans_overlap_and_reach_the_end():
    doc = spacy.blank("en").make_doc(" ".join(str(i) for i in range(10)))
    spans = get_strided_spans([doc], window=4, stride=3)[0]
    assert [(s.start, s.end) for s in spans] == [(0, 4), (3, 7), (6, 10)]
    assert [(s.start, s.end) for s in get_strided_spans([doc[:0].as_doc()], 4, 3)[0]] == [(0, 0)]


def test_strided_spans_reject_gaps():
    with pytest.raises(UserError, match="stride"):
        strided_spans(window=4, stride=5)


def test_doc_and_sent_spans():
    nlp = spacy.blank("en")
    doc = Doc(
        nlp.vocab, words=["A", "b", ".", "C", "d", "."], sent_starts=[True, False, False, True, False, False]
    )
    assert [s.text for s in get_doc_spans([doc])[0]] == ["A b . C d ."]
    assert [s.text for s in get_sent_spans([doc])[0]] == ["A b .", "C d ."]


def test_sent_spans_without_sentences_is_a_clear_error():
    with pytest.raises(UserError, match="sentence boundaries"):
        get_sent_spans([spacy.blank("en").make_doc("no sentence boundaries here")])
