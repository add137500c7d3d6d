"""Optional model outputs in ``trf_data`` (``transformer_config``: ``output_attentions``,
``output_hidden_states``) and the batch-level ``model_output`` of a FullTransformerBatch:
per Doc as Hugging Face computes them, padded per Doc, stacked per batch."""

from __future__ import annotations

import numpy
import spacy
import torch
from spacy.tokens import DocBin

from spacy_transfer.core.transformer import get_hf_model, get_tokenizer, transformer_model
from spacy_transfer.core.transformer.data import install_extensions
from spacy_transfer.core.transformer.span_getters import get_doc_spans

from .conftest import CORPUS


def _model(path, **config):
    model = transformer_model(str(path), get_doc_spans, transformer_config=config)
    model.initialize()
    return model


def _hf_attentions(model, text):
    tok, hf = get_tokenizer(model), get_hf_model(model).eval()
    with torch.inference_mode():
        return [a[0].numpy() for a in hf(**tok(text, return_tensors="pt")).attentions]


def test_attentions_when_asked_for_equal_hugging_faces(tiny_model):
    model = _model(tiny_model("bert"), output_attentions=True)
    docs = [spacy.blank("en").make_doc(t) for t in (CORPUS[0], "Hi.")]  # two lengths in one pass
    for doc, data in zip(docs, model.predict(docs).doc_data):
        attentions = data.model_output.attentions
        n = data.wordpieces.lengths[0]
        assert len(attentions) == 2 and attentions[0].shape == (1, 2, n, n)  # layers; (spans, heads, q, k)
        for ours, ref in zip(attentions, _hf_attentions(model, doc.text)):
            numpy.testing.assert_allclose(ours[0], ref, atol=1e-6)
        assert data.tensors[-1] is attentions  # last in tensors, as ModelOutput orders them


def test_attentions_of_a_windowed_span_average_the_windows_that_saw_each_pair(tiny_model):
    model = _model(tiny_model("bert", max_len=16), output_attentions=True)
    doc = spacy.blank("en").make_doc(" ".join(CORPUS[:3]))
    data = model.predict([doc]).doc_data[0]
    n = data.wordpieces.lengths[0]
    assert n > 16, "longer than the model's positions: windowed"
    for layer in data.model_output.attentions:
        assert layer.shape == (1, 2, n, n) and layer.min() >= 0 and layer.max() <= 1 + 1e-6
        # The first wordpiece after [CLS] is in the first window only: its row is that window's softmax.
        numpy.testing.assert_allclose(layer[0, :, 1].sum(axis=-1), 1.0, atol=1e-5)
        # The first and the last wordpiece are never in one window together.
        assert (layer[0, :, 1, n - 2] == 0).all()


def test_no_attentions_or_hidden_states_unless_asked(tiny_model):
    data = _model(tiny_model("bert")).predict([spacy.blank("en").make_doc("hello world")]).doc_data[0]
    assert list(data.model_output.keys()) == ["last_hidden_state", "pooler_output"]


def test_batch_level_outputs_stack_the_docs_padded_to_the_longest(tiny_model):
    model = _model(tiny_model("bert"), output_attentions=True, output_hidden_states=True)
    docs = [spacy.blank("en").make_doc(t) for t in (CORPUS[0], "Hi.", CORPUS[2])]
    batch = model.predict(docs)
    out, per_doc = batch.model_output, batch.doc_data
    length = max(d.wordpieces.padded_length for d in per_doc)
    assert out.last_hidden_state.shape == (3, length, 32)
    # The pooler output has no length axis: stacked, never padded.
    numpy.testing.assert_array_equal(
        out.pooler_output.numpy(), numpy.concatenate([d.tensors[1] for d in per_doc])
    )
    assert len(out.hidden_states) == 3 and out.hidden_states[0].shape == (3, length, 32)
    short = per_doc[1].wordpieces.lengths[0]
    attention = out.attentions[0].numpy()
    assert attention.shape == (3, 2, length, length)
    numpy.testing.assert_array_equal(
        attention[1, :, :short, :short], per_doc[1].model_output.attentions[0][0]
    )
    assert not attention[1, :, short:, :].any() and not attention[1, :, :, short:].any()


def test_attentions_survive_docbin(tiny_model):
    install_extensions()  # what the transformer component does
    model = _model(tiny_model("bert"), output_attentions=True)
    doc = spacy.blank("en").make_doc(CORPUS[1])
    doc._.trf_data = model.predict([doc]).doc_data[0]
    back = list(DocBin(docs=[doc], store_user_data=True).get_docs(spacy.blank("en").vocab))[0]._.trf_data
    for a, b in zip(doc._.trf_data.model_output.attentions, back.model_output.attentions):
        numpy.testing.assert_array_equal(a, b)
