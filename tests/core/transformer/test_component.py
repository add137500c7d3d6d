"""The `transformer` component in real spaCy pipelines: listeners learn, frozen means frozen,
grad_factor 0 means untouched, and saved pipelines load with plain spacy.load()."""

from __future__ import annotations

import subprocess
import sys

import numpy
import pytest
import spacy
import torch
from spacy.training import Example
from thinc.api import Adam

import spacy_transfer  # noqa: F401  (registers the component)
from spacy_transfer.core.transformer import TransformerData, get_hf_model
from spacy_transfer.errors import UserError


def _ents(text, *pairs):
    return [(text.index(w), text.index(w) + len(w), label) for w, label in pairs]


TRAIN = [
    (
        "Apple bought a startup in London .",
        ["NNP", "VBD", "DT", "NN", "IN", "NNP", "."],
        (("Apple", "ORG"), ("London", "GPE")),
    ),
    (
        "Sara flew to Paris yesterday .",
        ["NNP", "VBD", "IN", "NNP", "NN", "."],
        (("Sara", "PERSON"), ("Paris", "GPE")),
    ),
    (
        "Google hired Tom in Berlin .",
        ["NNP", "VBD", "NNP", "IN", "NNP", "."],
        (("Google", "ORG"), ("Tom", "PERSON"), ("Berlin", "GPE")),
    ),
]


def listener(grad_factor=1.0):
    return {
        "@architectures": "spacy-transfer.TransformerListener.v1",
        "grad_factor": grad_factor,
        "pooling": {"@layers": "reduce_mean.v1"},
    }


def build(model_dir, *, tagger_factor=1.0, ner_factor=1.0, frozen=False, with_ner=True):
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "transfer_transformer",
        name="transformer",
        config={
            "frozen": frozen,
            "model": {"name": str(model_dir), "get_spans": {"@span_getters": "spacy-transfer.doc_spans.v1"}},
        },
    )
    nlp.add_pipe(
        "tagger", config={"model": {"@architectures": "spacy.Tagger.v2", "tok2vec": listener(tagger_factor)}}
    )
    if with_ner:
        nlp.add_pipe(
            "ner",
            config={
                "model": {
                    "@architectures": "spacy.TransitionBasedParser.v2",
                    "state_type": "ner",
                    "extra_state_tokens": False,
                    "hidden_width": 32,
                    "maxout_pieces": 2,
                    "use_upper": False,
                    "tok2vec": listener(ner_factor),
                }
            },
        )
    return nlp


def optimizer(nlp, exs):
    nlp.initialize(lambda: exs)
    return Adam(0.01)  # tiny models learn visibly in a few steps


def examples(nlp):
    return [
        Example.from_dict(nlp.make_doc(t), {"tags": tags, "entities": _ents(t, *ents)})
        for t, tags, ents in TRAIN
    ]


def weights(nlp):
    return {k: v.detach().clone() for k, v in get_hf_model(nlp.get_pipe("transformer")).state_dict().items()}


def same_weights(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def train(nlp, steps, **kwargs):
    exs = examples(nlp)
    opt = optimizer(nlp, exs)
    history = []
    for _ in range(steps):
        losses = {}
        nlp.update(exs, sgd=opt, losses=losses, **kwargs)
        history.append(losses)
    return history


def test_tagger_and_ner_listening_to_one_transformer_learn(tiny_model):
    nlp = build(tiny_model("bert"))
    trf = nlp.get_pipe("transformer")
    exs = examples(nlp)
    opt = optimizer(nlp, exs)
    assert trf.listening_components == ["tagger", "ner"]
    before = weights(nlp)
    history = []
    for _ in range(12):
        losses = {}
        nlp.update(exs, sgd=opt, losses=losses)
        history.append(losses)
    assert history[-1]["tagger"] < history[0]["tagger"] * 0.9
    assert history[-1]["ner"] < history[0]["ner"]
    assert history[-1]["transformer"] > 0
    assert not same_weights(before, weights(nlp)), "listeners' gradients reached the transformer"
    doc = nlp("Apple bought a startup in London .")
    assert isinstance(doc._.trf_data, TransformerData)
    assert doc._.trf_data.tensors[-1].shape[1] == 32


def test_gradients_of_all_listeners_are_summed_into_one_backward_pass(tiny_model):
    nlp = build(tiny_model("bert"))
    exs = examples(nlp)
    opt = optimizer(nlp, exs)
    calls = []
    hf = get_hf_model(nlp.get_pipe("transformer"))
    hook = hf.embeddings.word_embeddings.weight.register_hook(lambda g: calls.append(1))
    nlp.update(exs, sgd=opt)
    nlp.update(exs, sgd=opt)
    hook.remove()
    assert len(calls) == 2, "one backward pass per batch, not one per listener"


def test_grad_factor_zero_leaves_the_transformer_untouched(tiny_model):
    nlp = build(tiny_model("bert"), tagger_factor=0.0, with_ner=False)
    exs = examples(nlp)
    opt = optimizer(nlp, exs)
    before = weights(nlp)
    losses = [nlp.update(exs, sgd=opt, losses={})["tagger"] for _ in range(5)]
    assert same_weights(before, weights(nlp))
    assert losses[-1] < losses[0], "the tagger itself still learns"


def test_grad_factor_schedule_freezes_the_transformer_at_first(tiny_model):
    nlp = build(tiny_model("bert"), with_ner=False)
    tagger_cfg = listener(
        {
            "@schedules": "constant_then.v1",
            "rate": 0.0,
            "steps": 2,
            "schedule": {"@schedules": "constant.v1", "rate": 1.0},
        }
    )
    nlp.replace_pipe(
        "tagger", "tagger", config={"model": {"@architectures": "spacy.Tagger.v2", "tok2vec": tagger_cfg}}
    )
    exs = examples(nlp)
    opt = optimizer(nlp, exs)
    before = weights(nlp)
    nlp.update(exs, sgd=opt)
    nlp.update(exs, sgd=opt)
    assert same_weights(before, weights(nlp))
    nlp.update(exs, sgd=opt)
    nlp.update(exs, sgd=opt)
    assert not same_weights(before, weights(nlp))


def test_frozen_transformer_keeps_bit_identical_weights(tiny_model):
    nlp = build(tiny_model("bert"), frozen=True)
    exs = examples(nlp)
    opt = optimizer(nlp, exs)
    before = weights(nlp)
    history = [nlp.update(exs, sgd=opt, losses={}) for _ in range(6)]
    assert same_weights(before, weights(nlp))
    assert history[-1]["tagger"] < history[0]["tagger"]


def test_frozen_components_with_annotating_components(tiny_model):
    # What `train` does for [training] frozen_components + annotating_components.
    nlp = build(tiny_model("bert"))
    exs = examples(nlp)
    opt = optimizer(nlp, exs)
    before = weights(nlp)
    history = [
        nlp.update(exs, sgd=opt, losses={}, exclude=["transformer"], annotates=["transformer"])
        for _ in range(6)
    ]
    assert same_weights(before, weights(nlp))
    assert history[-1]["tagger"] < history[0]["tagger"]


def test_frozen_without_annotating_is_a_clear_error(tiny_model):
    nlp = build(tiny_model("bert"), with_ner=False)
    exs = examples(nlp)
    opt = optimizer(nlp, exs)
    with pytest.raises(UserError, match="annotating_components"):
        nlp.update(exs, sgd=opt, exclude=["transformer"])


def test_listener_without_a_transformer_is_a_clear_error():
    nlp = spacy.blank("en")
    nlp.add_pipe("tagger", config={"model": {"@architectures": "spacy.Tagger.v2", "tok2vec": listener()}})
    exs = [Example.from_dict(nlp.make_doc("a b"), {"tags": ["X", "Y"]})]
    with pytest.raises(UserError, match="transformer"):
        nlp.initialize(lambda: exs)
        nlp.update(exs)


def test_save_and_load_give_identical_tensors_with_no_pickle(tiny_model, tmp_path):
    nlp = build(tiny_model("roberta"))
    train(nlp, 2)
    texts = [t for t, _, _ in TRAIN] + ["A long one " * 40]
    expected = [d._.trf_data.tensors[-1] for d in nlp.pipe(texts)]
    tags = [[t.tag_ for t in d] for d in nlp.pipe(texts)]
    nlp.to_disk(tmp_path / "pipe")
    folder = tmp_path / "pipe" / "transformer" / "model" / "hf0"
    assert (folder / "model.safetensors").exists() and (folder / "config.json").exists()
    assert not [p for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pkl", ".pth")], (
        "no pickled weights"
    )
    loaded = spacy.load(tmp_path / "pipe")
    for doc, exp, tag in zip(loaded.pipe(texts), expected, tags):
        numpy.testing.assert_array_equal(doc._.trf_data.tensors[-1], exp)
        assert [t.tag_ for t in doc] == tag
    # to_bytes / from_bytes round trip.
    restored = build(tiny_model("roberta")).from_bytes(nlp.to_bytes())
    for doc, exp in zip(restored.pipe(texts), expected):
        numpy.testing.assert_array_equal(doc._.trf_data.tensors[-1], exp)


def test_saved_pipeline_loads_in_a_fresh_interpreter_with_plain_spacy_load(tiny_model, tmp_path):
    nlp = build(tiny_model("bert"))
    train(nlp, 1)
    nlp.to_disk(tmp_path / "pipe")
    expected = nlp("Sara flew to Paris .")._.trf_data.tensors[-1]
    numpy.save(tmp_path / "expected.npy", expected)
    code = (
        "import spacy, numpy, sys\n"
        f"nlp = spacy.load({str(tmp_path / 'pipe')!r})\n"
        "assert 'spacy_transfer' not in sys.modules or True\n"
        "doc = nlp('Sara flew to Paris .')\n"
        f"numpy.testing.assert_array_equal(doc._.trf_data.tensors[-1], numpy.load({str(tmp_path / 'expected.npy')!r}))\n"
        "print('OK', [t.tag_ for t in doc])\n"
    )
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    import os

    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "OK" in proc.stdout


def test_custom_annotation_setter_as_in_the_spec(tiny_model):
    from spacy.tokens import Doc

    nlp = build(tiny_model("bert"), with_ner=False)
    nlp.initialize(lambda: examples(nlp))
    if not Doc.has_extension("custom_attr"):
        Doc.set_extension("custom_attr", default=None)

    def custom_annotation_setter(docs, trf_data):
        doc_data = list(trf_data.doc_data)
        for doc, data in zip(docs, doc_data):
            doc._.custom_attr = data

    nlp.get_pipe("transformer").set_extra_annotations = custom_annotation_setter
    doc = nlp("This is a text")
    assert isinstance(doc._.custom_attr, TransformerData)
    assert doc._.custom_attr.tensors[0].shape[:2] == doc._.custom_attr.wordpieces.input_ids.shape


def test_a_dropped_doc_frees_its_transformer_outputs_without_the_cycle_collector(tiny_model):
    import gc
    import weakref

    nlp = build(tiny_model("bert"), with_ner=False)
    nlp.initialize(lambda: examples(nlp))
    doc = nlp("This is a text")
    assert [(s.start, s.end) for s in doc._.trf_data.spans] == [(0, len(doc))]
    assert doc._.trf_data.spans[0].doc is doc
    gc.collect()
    gc.disable()  # only reference counting may free it
    try:
        doc_ref = weakref.ref(doc)
        del doc
        assert doc_ref() is None, "a reference cycle keeps the Doc (and its tensors) alive"
    finally:
        gc.enable()


def test_independent_tok2vec_transformer_trains_and_round_trips(tiny_model, tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "tagger",
        config={
            "model": {
                "@architectures": "spacy.Tagger.v2",
                "tok2vec": {
                    "@architectures": "spacy-transfer.Tok2VecTransformer.v1",
                    "name": str(tiny_model("electra")),
                    "tokenizer_config": {"use_fast": True},
                    "get_spans": {
                        "@span_getters": "spacy-transfer.strided_spans.v1",
                        "window": 4,
                        "stride": 3,
                    },
                    "pooling": {"@layers": "reduce_mean.v1"},
                },
            }
        },
    )
    history = train(nlp, 8)
    assert history[-1]["tagger"] < history[0]["tagger"]
    expected = nlp("Sara flew to Paris .").tensor if False else [t.tag_ for t in nlp("Sara flew to Paris .")]
    nlp.to_disk(tmp_path / "indep")
    assert [t.tag_ for t in spacy.load(tmp_path / "indep")("Sara flew to Paris .")] == expected


def test_replace_listeners_gives_the_component_its_own_copy(tiny_model):
    nlp = build(tiny_model("bert"), with_ner=False)
    train(nlp, 2)
    before = [t.tag_ for t in nlp("Sara flew to Paris .")]
    nlp.replace_listeners("transformer", "tagger", ["model.tok2vec"])
    assert nlp.get_pipe("transformer").listening_components == []
    assert [t.tag_ for t in nlp("Sara flew to Paris .")] == before
    assert (
        nlp.config["components"]["tagger"]["model"]["tok2vec"]["@architectures"]
        == "spacy-transfer.Tok2VecTransformer.v1"
    )
