"""Every spaCy token is aligned exactly to the wordpieces that cover its characters,
for WordPiece, byte-level BPE, SentencePiece/Unigram and ModernBERT tokenizers."""

from __future__ import annotations

import numpy
import pytest
import spacy

from spacy_transfer.core.transformer import get_tokenizer, transformer_model
from spacy_transfer.core.transformer.alignment import (
    TokenizerSpec,
    align_tokens,
    encode_spans,
    trim_leading_space,
)
from spacy_transfer.core.transformer.span_getters import get_doc_spans

from .conftest import ARCHS

TEXTS = [
    "Hello world, this is a test.",
    "Émile paid €5.50 in Zürich 🙂 and 東京.",
    "Combining: e\u0301te\u0301 n\u0303o.",
    "Control\u0007char and zero\u200bwidth.",
    "Spaces   between  words\tand\ttabs.",
    "Emoji 👍🏽🎉 ❤️ joined",
    "Don't stop — it's 3:45 p.m.!",
    "one",
    "",
    "   ",
]


def _model(path):
    model = transformer_model(str(path), get_doc_spans)
    model.initialize()
    return model


def check_exact_alignment(nlp, tokenizer, text):
    doc = nlp.make_doc(text)
    enc = encode_spans(
        tokenizer.backend_tokenizer, [doc], [[doc[:]]], TokenizerSpec(max_length=10_000, filler_id=0)
    )
    align = enc.aligns[0]
    lengths = align.lengths
    assert lengths.shape[0] == len(doc)
    assert (lengths >= 1).all(), "every token gets at least one wordpiece row"
    raw = tokenizer.backend_tokenizer.encode(text)
    offsets = trim_leading_space(numpy.asarray(raw.offsets).reshape((-1, 2)), text)
    special = numpy.asarray(raw.special_tokens_mask, dtype=bool)
    rows = align.dataXd
    start = 0
    for tok, n in zip(doc, lengths):
        mine = rows[start : start + n]
        start += n
        t0, t1 = tok.idx, tok.idx + len(tok.text)
        overlapping = [
            i for i, (s, e) in enumerate(offsets) if not special[i] and e > s and s < t1 and e > t0
        ]
        if overlapping:
            # Exact: the rows are precisely the pieces that overlap the token's characters.
            assert sorted(mine.tolist()) == overlapping, (tok.text, mine, overlapping)
        else:
            # No piece of its own (whitespace, dropped control char): one neighbouring row.
            assert len(mine) == 1


@pytest.mark.parametrize("arch", ARCHS)
def test_alignment_is_exact_for_every_architecture(tiny_model, arch):
    tokenizer = get_tokenizer(_model(tiny_model(arch)))
    nlp = spacy.blank("en")
    for text in TEXTS:
        check_exact_alignment(nlp, tokenizer, text)


def test_alignment_on_the_real_minilm_tokenizer(minilm_path):
    tokenizer = get_tokenizer(_model(minilm_path))
    nlp = spacy.blank("en")
    for text in TEXTS:
        check_exact_alignment(nlp, tokenizer, text)


def test_token_split_inside_a_wordpiece_shares_the_row():
    # spaCy splits "don't" into "do" + "n't"; a piece "don" covers parts of both.
    offsets = numpy.array([[0, 0], [0, 3], [3, 4], [4, 5], [0, 0]])
    special = numpy.array([1, 0, 0, 0, 1], dtype=bool)
    toks, rows = align_tokens(offsets, special, numpy.array([0, 2]), numpy.array([2, 5]))
    assert toks.tolist() == [0, 1, 1, 1]
    assert rows.tolist() == [1, 1, 2, 3]


def test_whitespace_token_falls_back_to_the_preceding_piece():
    offsets = numpy.array([[0, 0], [0, 5], [8, 13], [0, 0]])
    special = numpy.array([1, 0, 0, 1], dtype=bool)
    toks, rows = align_tokens(offsets, special, numpy.array([0, 6, 8]), numpy.array([5, 7, 13]))
    assert toks.tolist() == [0, 1, 2]
    assert rows.tolist() == [1, 1, 2]


def test_leading_space_of_byte_level_pieces_is_not_part_of_the_word():
    text = "Hello  world"
    offsets = numpy.array([[0, 5], [5, 6], [6, 12]])
    assert trim_leading_space(offsets, text).tolist() == [[0, 5], [5, 6], [7, 12]]


def test_a_models_alignment_rule_is_looked_up_by_name():
    """The core knows its own rule; importing spacy_transfer registers spacy-transformers'
    (the compatibility package plugs it in), and an unknown name is a clear error."""
    from spacy_transfer.compat.alignment import align_tokens_st
    from spacy_transfer.core.transformer.alignment import alignment_rule
    from spacy_transfer.errors import UserError

    assert alignment_rule(None).align is align_tokens and alignment_rule(None).trim_leading_space
    st = alignment_rule("spacy-transformers")
    assert st.align is align_tokens_st and not st.trim_leading_space
    with pytest.raises(UserError, match="'nope' is not known"):
        alignment_rule("nope")
