"""Soft targets: top-k storage, temperature, and the KL gradient the student receives."""

from __future__ import annotations

import numpy
import pytest
import spacy
from spacy.training import Example

from spacy_transfer.core.distill import DistillUpdate
from spacy_transfer.core.distill.soft import (
    SOFT_KEY,
    as_probabilities,
    output_adapter,
    soft_gradient,
    soft_losses,
    soften,
    target,
    top_k,
)
from spacy_transfer.core.recipe import Reporter

from .conftest import SPANS_OF_1_OR_2


def _kl_of_logits(z, q, T):
    p = numpy.exp(z / T - (z / T).max())
    p /= p.sum()
    return T * T * float((q * (numpy.log(q) - numpy.log(p))).sum())


def test_the_gradient_is_that_of_t_squared_kl_with_respect_to_the_logits():
    rng = numpy.random.default_rng(0)
    z = rng.normal(size=(1, 6)).astype("float64")
    T = 2.0
    q = soften(as_probabilities(rng.normal(size=(1, 6)), False), T, False, numpy)
    p = numpy.exp(z - z.max()) / numpy.exp(z - z.max()).sum()  # what the student's softmax outputs
    _, grad = soft_gradient(p, q, T, False, numpy)
    eps = 1e-5
    numeric = [
        (_kl_of_logits(z + eps * numpy.eye(6)[j], q, T) - _kl_of_logits(z - eps * numpy.eye(6)[j], q, T))
        / (2 * eps)
        for j in range(6)
    ]
    assert numpy.allclose(grad[0], numeric, atol=1e-4)


def test_at_temperature_one_a_one_hot_teacher_gives_spacys_own_gradient():
    p = numpy.asarray([[0.7, 0.2, 0.1]], dtype="float32")
    q = numpy.asarray([[0.0, 1.0, 0.0]], dtype="float32")
    _, grad = soft_gradient(p, q, 1.0, False, numpy)
    assert numpy.allclose(grad, p - q)


def test_top_k_keeps_the_most_probable_labels_and_logits_are_turned_into_probabilities():
    logits = numpy.asarray([[2.0, -1.0, 0.5, 3.0]])
    probs = as_probabilities(logits, False)
    assert numpy.allclose(probs.sum(), 1.0)
    kept = top_k(probs, 2)
    assert kept["i"].tolist() == [[3, 0]]
    assert kept["p"].dtype == numpy.float16 and kept["p"][0, 0] > kept["p"][0, 1]


def test_targets_follow_the_students_label_order_and_renormalise_over_the_kept_labels():
    soft = {"i": numpy.asarray([[1, 0]]), "p": numpy.asarray([[0.6, 0.3]], dtype="float16")}
    mapping = numpy.asarray([2, 0, -1])  # teacher label 0 is the student's 2, label 1 its 0
    q = target(soft, mapping, 3, 1.0, False, numpy)
    assert numpy.allclose(q, [[0.6 / 0.9, 0.0, 0.3 / 0.9]], atol=1e-3)


def _tagger_with_soft_loss():
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("tagger")
    doc = nlp.make_doc("a b c")
    gold = Example.from_dict(doc, {"tags": ["X", "Y", "X"]})
    nlp.initialize(lambda: [gold])
    loss_of = soft_losses(nlp, {"tagger": ["Y", "X"]}, temperature=1.0)["tagger"]
    return nlp, tagger, gold, loss_of


def test_a_silver_example_gets_the_kl_gradient_and_a_gold_one_the_taggers_own_loss():
    nlp, tagger, gold, loss_of = _tagger_with_soft_loss()
    silver_ref = nlp.make_doc("a b c")
    # The teacher (labels Y, X) is sure of Y for every token.
    silver_ref.user_data[SOFT_KEY] = {
        "tagger": {"i": numpy.zeros((3, 1), dtype="int32"), "p": numpy.ones((3, 1), dtype="float16")}
    }
    silver = Example(nlp.make_doc("a b c"), silver_ref)
    scores, _ = tagger.model.begin_update([silver.predicted, gold.predicted])
    loss, grads = loss_of([silver, gold], scores)
    y = list(tagger.labels).index("Y")
    expected = scores[0].copy()
    expected[:, y] -= 1.0
    assert numpy.allclose(grads[0], expected, atol=1e-6)
    _, own = type(tagger).get_loss(tagger, [gold], [scores[1]])
    assert numpy.allclose(grads[1], own[0])
    assert loss > 0


def test_the_student_is_never_patched_and_saves_as_a_plain_spacy_pipeline(tmp_path):
    nlp, tagger, gold, _ = _tagger_with_soft_loss()
    student = DistillUpdate({"tagger": ["Y", "X"]}, temperature=1.0)
    student.bind(nlp, Reporter(enabled=False))
    student(nlp, [gold], drop=0.0, losses={}, sgd=nlp.create_optimizer())
    assert "get_loss" not in vars(tagger) and "update" not in vars(tagger)
    assert "update" not in vars(nlp)
    nlp.to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p")
    assert "get_loss" not in vars(loaded.get_pipe("tagger"))


@pytest.mark.parametrize("multilabel", [False, True])
def test_textcat_rows_with_soft_targets_get_the_kl_gradient(multilabel):
    nlp = spacy.blank("en")
    factory = "textcat_multilabel" if multilabel else "textcat"
    textcat = nlp.add_pipe(factory)
    gold = Example.from_dict(nlp.make_doc("hello there"), {"cats": {"A": 1.0, "B": 0.0}})
    nlp.initialize(lambda: [gold])
    loss_of = soft_losses(nlp, {factory: ["A", "B"]}, temperature=1.0)[factory]
    ref = nlp.make_doc("good day")
    ref.cats = {"A": 0.0, "B": 1.0}
    ref.user_data[SOFT_KEY] = {
        factory: {"i": numpy.asarray([[0, 1]]), "p": numpy.asarray([[0.8, 0.2]], dtype="float16")}
    }
    silver = Example(nlp.make_doc("good day"), ref)
    scores = textcat.model.predict([silver.predicted, gold.predicted])
    _, grads = loss_of([silver, gold], scores)
    a, b = list(textcat.labels).index("A"), list(textcat.labels).index("B")
    q = numpy.zeros(2)
    q[a], q[b] = 0.8, 0.2
    # The logits get p - q (textcat_multilabel's sigmoid layer multiplies by p(1 - p)).
    logit_grads = grads[0] * scores[0] * (1 - scores[0]) if multilabel else grads[0]
    assert numpy.allclose(logit_grads, scores[0] - q, atol=2e-3)
    _, own = type(textcat).get_loss(textcat, [gold], scores[1:])
    assert numpy.allclose(grads[1], own[0])


def _spancat_with_soft_loss(factory):
    """A spancat (candidates: every 1- and 2-token span) whose teacher listed ORG before PER."""
    from spacy.tokens import Span

    nlp = spacy.blank("en")
    spancat = nlp.add_pipe(factory, config=SPANS_OF_1_OR_2)
    for label in ("PER", "ORG"):
        spancat.add_label(label)
    ref = nlp.make_doc("Ada met Bob")
    ref.spans[spancat.key] = [Span(ref, 0, 1, "PER")]
    gold = Example(nlp.make_doc("Ada met Bob"), ref)
    nlp.initialize(lambda: [gold])
    loss_of = soft_losses(nlp, {factory: ["ORG", "PER"]}, temperature=1.0)[factory]
    return nlp, spancat, gold, loss_of


@pytest.mark.parametrize("factory", ["spancat", "spancat_singlelabel"])
def test_spancat_candidates_get_the_kl_gradient_to_the_teachers_probabilities(factory):
    nlp, spancat, gold, loss_of = _spancat_with_soft_loss(factory)
    exclusive = factory == "spancat_singlelabel"
    ref = nlp.make_doc("Cy saw Dee")
    # The teacher stored one candidate, "Dee" (2, 3): PER 0.9, ORG 0.05 (and "no label" 0.05).
    i, p = ([[1, 0, 2]], [[0.9, 0.05, 0.05]]) if exclusive else ([[1, 0]], [[0.9, 0.05]])
    ref.user_data[SOFT_KEY] = {
        factory: {
            "s": numpy.asarray([[2, 3]], dtype="int32"),
            "i": numpy.asarray(i),
            "p": numpy.asarray(p, "float16"),
        }
    }
    silver = Example(nlp.make_doc("Cy saw Dee"), ref)
    docs = [silver.predicted, gold.predicted]
    spans = spancat.suggester(docs, ops=spancat.model.ops)
    scores = spancat.model.predict((docs, spans))
    loss, grads = loss_of([silver, gold], (spans, scores))
    n = int(spans.lengths[0])
    per, org = spancat._label_map["PER"], spancat._label_map["ORG"]
    q = numpy.zeros((n, scores.shape[1]), dtype="float32")
    if exclusive:
        q[:, spancat._negative_label_i] = 1.0  # candidates the teacher did not store: no label
    row = [tuple(s) for s in spans.dataXd[:n].tolist()].index((2, 3))
    q[row] = 0.0
    q[row, per], q[row, org] = 0.9, 0.05
    if exclusive:
        q[row, spancat._negative_label_i] = 0.05
    # The gradient on the logits is p - q (spancat's sigmoid layer multiplies by p(1 - p)).
    logit_grads = grads[:n] if exclusive else grads[:n] * scores[:n] * (1 - scores[:n])
    assert numpy.allclose(logit_grads, scores[:n] - q, atol=1e-3)
    own_spans = spancat.suggester([gold.predicted], ops=spancat.model.ops)
    _, own = type(spancat).get_loss(spancat, [gold], (own_spans, scores[n:]))
    assert numpy.allclose(grads[n:], own)  # the gold doc keeps spaCy's own span loss
    assert loss > 0


def test_only_span_candidates_with_a_likely_real_label_are_stored():
    from spacy_transfer.core.distill.soft import span_targets

    starts_ends = numpy.asarray([[0, 1], [1, 2], [0, 2]])
    # Two labels and "no label": the middle candidate is "no label" for sure.
    probs = numpy.asarray([[0.7, 0.1, 0.2], [0.001, 0.002, 0.997], [0.02, 0.0, 0.98]])
    kept = span_targets(starts_ends, probs, n_real=2, n_cols=3, k=2)
    assert kept["s"].tolist() == [[0, 1], [0, 2]]
    assert kept["i"].tolist() == [[0, 2], [2, 0]]
    empty = span_targets(numpy.zeros((0,), "int32"), numpy.zeros((0, 0), "float32"), 2, 3, 2)
    assert empty["s"].shape == (0, 2) and empty["i"].shape == (0, 2)


@pytest.mark.parametrize("layer", ["Logistic", "softmax_activation", "Softmax"])
def test_the_output_layers_backprop_hands_the_logits_the_wanted_gradient(layer):
    """Whatever spaCy's output layer (textcat BOW: softmax_activation; multi-label: Logistic;
    taggers and the CNN textcat: Softmax), the logits receive T(p_T - q)."""
    import thinc.api as thinc

    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(4, 3)).astype("float32")
    model = {"Logistic": thinc.Logistic(), "softmax_activation": thinc.softmax_activation()}.get(layer)
    if model is None:  # Softmax has its own weights: check the gradient it hands back to its logits
        model = thinc.chain(thinc.Linear(3, 3, init_W=thinc.zero_init), thinc.Softmax(3, 3))
    model.initialize(x)
    p, backprop = model(x, is_train=True)
    multilabel = layer == "Logistic"
    q = rng.uniform(size=(4, 3)).astype("float32")
    q = q if multilabel else q / q.sum(axis=1, keepdims=True)
    _, d = soft_gradient(p, q, 2.0, multilabel, numpy)
    passed = output_adapter(model)(d, p, numpy)
    if layer == "Softmax":
        assert numpy.allclose(passed, d)  # thinc's Softmax takes the logits' gradient as it is
    else:
        assert numpy.allclose(backprop(passed), d, atol=1e-4)


@pytest.mark.parametrize("multilabel", [False, True])
def test_a_bow_textcat_trained_on_soft_targets_alone_learns_the_teachers_distribution(multilabel):
    factory = "textcat_multilabel" if multilabel else "textcat"
    nlp = spacy.blank("en")
    bow = {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": not multilabel, "ngram_size": 1}
    bow["no_output_layer"] = False
    textcat = nlp.add_pipe(factory, config={"model": bow})
    for label in ("A", "B"):
        textcat.add_label(label)
    texts = ["a good day", "a bad night", "the long road"]
    # The teacher: A 0.7 / B 0.3 for every text (multi-label: independent 0.7 and 0.2).
    p = [[0.7, 0.2]] if multilabel else [[0.7, 0.3]]
    silver = []
    for text in texts:
        ref = nlp.make_doc(text)
        ref.user_data[SOFT_KEY] = {factory: {"i": numpy.asarray([[0, 1]]), "p": numpy.asarray(p, "float16")}}
        silver.append(Example(nlp.make_doc(text), ref))
    optimizer = nlp.initialize(lambda: silver)
    student = DistillUpdate({factory: ["A", "B"]}, temperature=1.0)
    student.bind(nlp, Reporter(enabled=False))
    for _ in range(400):
        student(nlp, silver, drop=0.0, losses={}, sgd=optimizer)
    for doc in nlp.pipe(texts):
        assert doc.cats["A"] == pytest.approx(0.7, abs=0.03)
        assert doc.cats["B"] == pytest.approx(p[0][1], abs=0.03)
