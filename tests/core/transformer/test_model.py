"""TransformerModel: outputs equal a plain Hugging Face forward pass, long documents are
windowed (never truncated), results do not depend on batching."""

from __future__ import annotations

import numpy
import pytest
import spacy
import torch

from spacy_transfer.core.transformer import get_hf_model, get_tokenizer, transformer_model
from spacy_transfer.core.transformer.model import length_buckets, max_positions
from spacy_transfer.core.transformer.span_getters import get_doc_spans, strided_spans

from .conftest import ARCHS, CORPUS


def make_model(path, get_spans=get_doc_spans, max_batch_items=4096):
    model = transformer_model(str(path), get_spans)
    model.initialize()
    model.attrs["max_batch_items"] = max_batch_items
    return model


def plain_forward(model, text):
    tok, hf = get_tokenizer(model), get_hf_model(model)
    hf.eval()
    with torch.inference_mode():
        enc = tok([text], return_tensors="pt")
        return (
            hf(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state[0].numpy()
        )


@pytest.mark.parametrize("arch", ARCHS)
def test_every_architecture_matches_a_plain_forward_pass(tiny_model, arch):
    model = make_model(tiny_model(arch))
    nlp = spacy.blank("en")
    docs = [nlp.make_doc(t) for t in CORPUS[:6]]
    batch = model.predict(docs)
    for doc, data in zip(docs, batch.doc_data):
        n = data.wordpieces.lengths[0]
        assert data.tensors[0].shape == (1, n, 32), "(spans, padded length, width) as in spacy-transformers"
        numpy.testing.assert_allclose(data.tensors[0][0], plain_forward(model, doc.text), atol=1e-5)
        assert data.align.lengths.shape[0] == len(doc)


def test_minilm_matches_a_plain_forward_pass(minilm_path):
    model = make_model(minilm_path)
    nlp = spacy.blank("en")
    docs = [nlp.make_doc(t) for t in CORPUS[:8]]
    for doc, data in zip(docs, model.predict(docs).doc_data):
        numpy.testing.assert_allclose(data.tensors[0][0], plain_forward(model, doc.text), atol=1e-4)
        assert data.tensors[-1].shape == (1, 384), "BERT's pooler output comes last, as in spacy-transformers"


@pytest.mark.parametrize("arch", ["bert", "roberta", "xlm-roberta", "modernbert"])
def test_long_document_is_windowed_and_every_token_gets_a_vector(tiny_model, arch):
    model = make_model(tiny_model(arch, max_len=64))
    nlp = spacy.blank("en")
    words = (" ".join(CORPUS)).split()
    text = " ".join((words * (5000 // len(words) + 1))[:5000])
    doc = nlp.make_doc(text)
    assert len(doc) >= 5000
    data = model.predict([doc]).doc_data[0]
    n_pieces = data.wordpieces.lengths[0]
    assert n_pieces > 64 * 10, "far longer than the model's 64 positions"
    assert data.tensors[0].shape == (1, n_pieces, 32)
    rows = data.tensors[0][0]
    assert data.align.lengths.shape[0] == len(doc) and (data.align.lengths >= 1).all()
    assert numpy.abs(rows).sum(axis=1).min() > 0, "no zero rows: nothing was dropped"
    assert numpy.isfinite(rows).all()


def test_a_doc_that_fits_gives_the_same_result_as_a_single_pass(tiny_model):
    # Just under the limit: one pass, equal to the plain forward pass; no windowing happens.
    model = make_model(tiny_model("bert", max_len=64))
    nlp = spacy.blank("en")
    words = "the quick brown fox jumps over the lazy dog".split() * 10
    tok = get_tokenizer(model)
    n = max(k for k in range(1, len(words)) if len(tok(" ".join(words[:k]))["input_ids"]) <= 64)
    doc = nlp.make_doc(" ".join(words[:n]))
    data = model.predict([doc]).doc_data[0]
    numpy.testing.assert_allclose(data.tensors[0][0], plain_forward(model, doc.text), atol=1e-5)
    # One piece more is windowed: the first rows still see the same (left) context closely.
    longer = nlp.make_doc(" ".join(words[: n + 3]))
    long_data = model.predict([longer]).doc_data[0]
    assert long_data.wordpieces.lengths[0] > 64
    assert numpy.abs(long_data.tensors[0][0]).sum(axis=1).min() > 0


def test_predictions_do_not_depend_on_batch_size(tiny_model):
    path = tiny_model("roberta")
    nlp = spacy.blank("en")
    docs = [nlp.make_doc(t) for t in CORPUS[:15]]
    big = make_model(path, max_batch_items=100_000).predict(docs)
    small = make_model(path, max_batch_items=40).predict(docs)
    one_by_one = [make_model(path).predict([d]).doc_data[0] for d in docs[:4]]
    for a, b in zip(big.doc_data, small.doc_data):
        numpy.testing.assert_allclose(a.tensors[0], b.tensors[0], atol=1e-5)
    for a, b in zip(big.doc_data, one_by_one):
        numpy.testing.assert_allclose(a.tensors[0], b.tensors[0], atol=1e-5)


def test_strided_spans_cover_every_token(tiny_model):
    model = make_model(tiny_model("bert"), get_spans=strided_spans(window=8, stride=6))
    doc = spacy.blank("en").make_doc(CORPUS[0] + " " + CORPUS[1])
    data = model.predict([doc]).doc_data[0]
    assert len(data.wordpieces) == len(data.spans) == data.tensors[0].shape[0] > 1
    assert data.tensors[0].shape[1] == max(data.wordpieces.lengths) == data.wordpieces.input_ids.shape[1]
    assert (data.align.lengths >= 1).all()
    assert data.align.dataXd.max() < data.tensors[0].shape[0] * data.tensors[0].shape[1], (
        "align indexes the flattened tensors[0]"
    )


def test_odd_docs_empty_whitespace_and_single_token(tiny_model):
    model = make_model(tiny_model("xlm-roberta"))
    nlp = spacy.blank("en")
    docs = [nlp.make_doc(t) for t in ["", "   ", "one", "\u0007", "🙂", "東京"]]
    for doc, data in zip(docs, model.predict(docs).doc_data):
        assert data.align.lengths.shape[0] == len(doc)
        assert (data.align.lengths >= 1).all()
        if len(doc):
            assert numpy.isfinite(data.tensors[0]).all()
        else:  # no tokens, no span: no wordpieces (not [CLS] [SEP]) and no tensors, as spacy-transformers
            assert data.wordpieces.strings == [] and data.tensors == () and len(data.align.data) == 0


def test_all_hidden_layers_when_asked(tiny_model):
    model = transformer_model(
        str(tiny_model("bert")), get_doc_spans, transformer_config={"output_hidden_states": True}
    )
    model.initialize()
    data = model.predict([spacy.blank("en").make_doc("hello world")]).doc_data[0]
    last, pooler, hidden = data.tensors  # as HF's ModelOutput orders them
    assert len(hidden) == 3  # embeddings, two layers
    assert pooler.shape == (1, 32)
    numpy.testing.assert_allclose(last, hidden[-1])


def test_resolving_a_config_loads_no_weights():
    model = transformer_model("bert-base-cased", get_doc_spans)  # no network, no files
    assert model.layers[0].shims[0].hf_model is None  # the encoder's holder layer, as in spacy-transformers
    assert not model.has_dim("nO")


def test_length_buckets_bound_padded_items():
    lengths = [5, 30, 7, 30, 12, 3]
    groups = length_buckets(lengths, 60, small=0)
    assert sorted(i for g in groups for i in g) == list(range(6))
    for g in groups:
        assert len(g) == 1 or len(g) * max(lengths[i] for i in g) <= 60
        assert [lengths[i] for i in g] == sorted((lengths[i] for i in g), reverse=True)


def test_length_buckets_bound_padding_waste_not_only_the_cap():
    # Within one call, long and short rows go to different passes (at most 10% padding)
    # even though all of them fit under the cap together.
    lengths = [60, 58, 57, 20, 19, 18, 5, 5, 4]
    groups = length_buckets(lengths, 10_000, max_padding=0.1, small=0)
    for g in groups:
        real = sum(lengths[i] for i in g)
        assert len(g) * max(lengths[i] for i in g) <= 1.1 * real
    assert len(groups) == 3
    # Tiny passes are merged even when padded: their cost is the call, not the padding.
    assert len(length_buckets([9, 2, 1], 10_000, small=64)) == 1


def test_max_positions_accounts_for_roberta_offsets(tiny_model):
    model = make_model(tiny_model("roberta", max_len=64))
    assert max_positions(get_hf_model(model).config, get_tokenizer(model)) == 64


def test_cpu_prediction_passes_hold_at_most_1024_padded_wordpieces_and_training_keeps_the_setting(tiny_model):
    from spacy_transfer.core.transformer.shim import CPU_INFERENCE_PASS_ITEMS

    nlp = spacy.blank("en")
    docs = [nlp.make_doc(" ".join(CORPUS)) for _ in range(40)]  # ~40 rows of up to 64 wordpieces
    model = make_model(tiny_model("bert"), max_batch_items=100_000)
    passes = []
    hook = get_hf_model(model).register_forward_hook(
        lambda module, args, kwargs, out: passes.append(kwargs["input_ids"].numel()), with_kwargs=True
    )
    try:
        predicted = model.predict(docs)
        n_predict = len(passes)
        model.begin_update(docs)
    finally:
        hook.remove()
    assert sum(passes[:n_predict]) > CPU_INFERENCE_PASS_ITEMS
    assert max(passes[:n_predict]) <= CPU_INFERENCE_PASS_ITEMS
    assert passes[n_predict:] == [sum(passes[:n_predict])]  # training: one pass, as max_batch_items allows
    assert predicted.doc_data[0].tensors[0].shape[-1] == predicted.doc_data[-1].tensors[0].shape[-1]
