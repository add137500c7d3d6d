"""Contextual vectors from the transformer (``doc_vectors``): ``doc.tensor``, ``.vector`` and
``.similarity()`` on Doc, Span and Token. Mean pooling equals sentence-transformers'
``encode()`` for all-MiniLM-L6-v2 (the real weights); the rest follows from the wordpieces."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy
import pytest
import spacy

from spacy_transfer.core.transformer.vectors import restore_hooks, row_weights
from spacy_transfer.errors import UserError

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Apple is looking at buying a U.K. startup for $1 billion!",
    "Émile went to Zürich 🙂 and ate a croissant.",
    "Short.",
    "Tabs\tand  double  spaces appear too.",
]


def embedder(path, doc_vectors=True, spans=None, pooling="mean", normalize=False, **component):
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "transfer_transformer",
        name="transformer",
        config={
            "doc_vectors": doc_vectors,
            "vector_pooling": pooling,
            "normalize_vectors": normalize,
            "model": {
                "@architectures": "spacy-transfer.TransformerModel.v1",
                "name": str(path),
                "get_spans": spans or {"@span_getters": "spacy-transfer.doc_spans.v1"},
            },
            **component,
        },
    )
    nlp.initialize()
    return nlp


@pytest.fixture(scope="module")
def sentence_transformer(minilm_path):
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(minilm_path), device="cpu")


def test_mean_pooling_equals_sentence_transformers_encode(minilm_path, sentence_transformer):
    nlp = embedder(minilm_path, normalize=True)
    ours = numpy.stack([doc.vector for doc in nlp.pipe(TEXTS)])
    reference = sentence_transformer.encode(TEXTS, convert_to_numpy=True)
    assert ours.shape == reference.shape == (len(TEXTS), 384)
    assert numpy.abs(ours - reference).max() < 1e-5


def test_tokens_spans_and_the_doc_read_the_wordpieces(tiny_model):
    nlp = embedder(tiny_model("bert"))
    doc = nlp(TEXTS[1])
    data = doc._.trf_data
    rows = data.tensors[0].reshape(-1, data.width)
    assert doc.tensor.shape == (len(doc), data.width)
    for token in doc:
        own = data.align[token.i].dataXd.ravel()
        numpy.testing.assert_allclose(token.vector, rows[own].mean(axis=0), rtol=1e-6)
        numpy.testing.assert_allclose(token.vector, doc.tensor[token.i])
    n = data.wordpieces.lengths[0]  # one span: every wordpiece it saw, [CLS] and [SEP] included
    numpy.testing.assert_allclose(doc.vector, rows[:n].mean(axis=0), rtol=1e-5)
    span = doc[2:5]  # the span's own wordpieces, each once, from the same pass
    own = numpy.unique(numpy.concatenate([data.align[i].dataXd.ravel() for i in range(2, 5)]))
    numpy.testing.assert_allclose(span.vector, rows[own].mean(axis=0), rtol=1e-5)


def test_cls_and_max_pooling(tiny_model):
    cls_doc = embedder(tiny_model("bert"), pooling="cls")(TEXTS[0])
    max_doc = embedder(tiny_model("bert"), pooling="max", normalize=True)(TEXTS[0])
    lhs = cls_doc._.trf_data.tensors[0][0]
    numpy.testing.assert_allclose(cls_doc.vector, lhs[0])
    n = max_doc._.trf_data.wordpieces.lengths[0]
    pooled = max_doc._.trf_data.tensors[0][0][:n].max(axis=0)
    numpy.testing.assert_allclose(max_doc.vector, pooled / numpy.linalg.norm(pooled), rtol=1e-5)
    assert abs(numpy.linalg.norm(max_doc[0:3].vector) - 1.0) < 1e-5  # spans are normalized too


def test_similarity_is_the_cosine_of_the_vectors_without_spacys_warning(tiny_model):
    nlp = embedder(tiny_model("bert"))
    a, b = nlp(TEXTS[0]), nlp(TEXTS[1])

    def cosine(x, y):
        return float(x @ y / (numpy.linalg.norm(x) * numpy.linalg.norm(y)))

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # spaCy's W007 ("no word vectors loaded") would be an error
        assert a.similarity(b) == pytest.approx(cosine(a.vector, b.vector), abs=1e-6)
        assert a[1:4].similarity(b[0:2]) == pytest.approx(cosine(a[1:4].vector, b[0:2].vector), abs=1e-6)
        assert a[2].similarity(b) == pytest.approx(cosine(a[2].vector, b.vector), abs=1e-6)
        assert a.similarity(a) == pytest.approx(1.0, abs=1e-6)


def test_a_long_doc_counts_each_wordpiece_once_over_overlapping_windows(tiny_model):
    spans = {"@span_getters": "spacy-transfer.strided_spans.v1", "window": 8, "stride": 6}
    nlp = embedder(tiny_model("bert"), spans=spans)
    doc = nlp(" ".join(TEXTS[:3]))
    data = doc._.trf_data
    assert len(data.wordpieces) > 1, "several windows"
    tokenizer = nlp.get_pipe("transformer").model.tokenizer
    content = sum(len(tokenizer(t.text, add_special_tokens=False)["input_ids"]) for t in doc)
    specials = 2 * len(data.wordpieces)  # [CLS] and [SEP] per window
    assert row_weights(data, len(doc)).sum() == pytest.approx(content + specials, abs=1e-3)
    assert numpy.isfinite(doc.vector).all() and doc.vector.shape == (data.width,)


def test_turned_on_at_load_time_for_a_saved_pipeline(tiny_model, tmp_path):
    embedder(tiny_model("bert"), doc_vectors=False).to_disk(tmp_path / "plain")
    plain = spacy.load(tmp_path / "plain")(TEXTS[0])
    assert plain.tensor.size == 0 and not plain.has_vector  # off by default: as before
    on = spacy.load(tmp_path / "plain", config={"components": {"transformer": {"doc_vectors": True}}})
    doc = on(TEXTS[0])
    assert doc.has_vector and doc.tensor.shape[0] == len(doc) and doc[0].has_vector


@pytest.mark.parametrize("anchor", ["st14", "st20"])
def test_pipelines_saved_by_spacy_transformers_get_vectors_at_load(anchor):
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "fixtures" / anchor / "bert"
    settings = {"doc_vectors": True, "normalize_vectors": True}
    nlp = spacy.load(path, config={"components": {"transformer": settings}})
    doc = nlp("Apple is buying a startup in London.")
    assert abs(numpy.linalg.norm(doc.vector) - 1.0) < 1e-5 and doc.tensor.shape[0] == len(doc)
    assert [t.tag_ for t in doc]  # the other components still run


def test_vectors_survive_doc_bytes_through_the_tensor_and_user_data(tiny_model):
    from spacy.tokens import Doc

    nlp = embedder(tiny_model("bert"))
    doc = nlp(TEXTS[2])
    again = Doc(nlp.vocab).from_bytes(doc.to_bytes())
    numpy.testing.assert_allclose(again.tensor, doc.tensor)
    numpy.testing.assert_allclose(again[3].vector, doc[3].vector)  # spaCy reads doc.tensor
    assert restore_hooks(again)
    numpy.testing.assert_allclose(again.vector, doc.vector)
    numpy.testing.assert_allclose(again[1:4].vector, doc[1:4].vector, rtol=1e-6)


def test_int8_and_bf16_stay_close_to_float32(minilm_path, monkeypatch):
    from spacy_transfer.core import precision

    monkeypatch.setenv(precision.FORCE_BF16_ENV, "1")
    fp32 = [d.vector for d in embedder(minilm_path).pipe(TEXTS)]
    for component in ({"quantize": "int8"}, {}):
        model = {} if component else {"mixed_precision": True}
        nlp = spacy.blank("en")
        nlp.add_pipe(
            "transfer_transformer",
            name="transformer",
            config={
                "doc_vectors": True,
                "model": {
                    "@architectures": "spacy-transfer.TransformerModel.v1",
                    "name": str(minilm_path),
                    "get_spans": {"@span_getters": "spacy-transfer.doc_spans.v1"},
                    **model,
                },
                **component,
            },
        )
        nlp.initialize()
        for a, doc in zip(fp32, nlp.pipe(TEXTS)):
            cosine = float(a @ doc.vector / (numpy.linalg.norm(a) * numpy.linalg.norm(doc.vector)))
            # measured here: bf16 >= 0.9999, int8 0.976 ("Short.") to 0.991: its activations are rounded per pass
            assert cosine > (0.97 if component else 0.999), component or "bf16"


SUBPROCESS = """
import sys, numpy, spacy
from spacy_transfer.core.transformer.vectors import restore_hooks
nlp = spacy.load(sys.argv[1])
texts = {texts!r} * 4
one = [(d.tensor, d.vector, d[1:3].vector) for d in nlp.pipe(texts)]
two = list(nlp.pipe(texts, n_process=2, batch_size=4))
for (tensor, vector, span), doc in zip(one, two):
    assert numpy.allclose(doc.tensor, tensor, atol=1e-5)
    assert restore_hooks(doc)
    assert numpy.allclose(doc.vector, vector, atol=1e-5) and numpy.allclose(doc[1:3].vector, span, atol=1e-5)
print("ok")
"""


def test_nlp_pipe_with_two_processes_gives_the_same_vectors(tiny_model, tmp_path):
    embedder(tiny_model("bert")).to_disk(tmp_path / "p")
    code = SUBPROCESS.format(texts=TEXTS)
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "p")], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]


def test_an_unknown_pooling_is_refused_with_the_choices(tiny_model):
    with pytest.raises(UserError, match="Unknown vector_pooling 'median'") as err:
        embedder(tiny_model("bert"), pooling="median")
    assert "mean, cls, max" in str(err.value.rows) and "[components.transformer]" in str(err.value.rows)


def test_doc_vectors_must_be_a_boolean(tiny_model):
    with pytest.raises(Exception, match="doc_vectors"):  # spaCy's config validation names the setting
        embedder(tiny_model("bert"), doc_vectors="mean")


def test_a_model_without_hidden_states_is_refused_clearly(tiny_model):
    """doc_vectors on a component whose model is no encoder (a classifier head's logits only)."""
    from spacy_transformers.pipeline_component import Transformer
    from tests.compat.spacy_transformers.test_custom_models import classifier

    model = classifier(str(tiny_model("distilbert")))
    model.initialize()
    nlp = spacy.blank("en")
    trf = Transformer(nlp.vocab, model, doc_vectors=True)
    with pytest.raises(UserError, match="no last hidden state") as err:
        trf(nlp.make_doc("Some text here."))
    assert "logits" in str(err.value.rows)
