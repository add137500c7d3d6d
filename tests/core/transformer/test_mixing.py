"""``spacy-transfer.AllLayersListener.v1``: a learned softmax mix of all hidden states with a
scale. Its gradients are exact (against torch autograd and finite differences), it trains
and saves with the pipeline, and without hidden states it says what to set."""

from __future__ import annotations

import numpy
import pytest
import spacy
import torch
from spacy.training import Example
from thinc.api import Adam

from spacy_transfer.core.transformer.architectures import transformer_model
from spacy_transfer.core.transformer.data import TransformerData, model_output
from spacy_transfer.core.transformer.mixing import LayerMixGrad, scalar_mix
from spacy_transfer.core.transformer.span_getters import doc_spans
from spacy_transfer.errors import UserError

TRAIN = [
    ("Sara flew to Paris yesterday .", ["NNP", "VBD", "IN", "NNP", "NN", "."]),
    ("Google hired Tom in Berlin .", ["NNP", "VBD", "NNP", "IN", "NNP", "."]),
]
NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


def test_the_encoder_gets_the_gradient_of_the_mixed_hidden_states(tiny_model):
    """A LayerMixGrad (coefficients c, gradient R) plus a plain gradient R2 give every encoder
    weight the gradient of sum_l c_l <h_l, R> + <h_last, R2>, as torch computes it directly."""
    model = transformer_model(
        str(tiny_model("bert")),
        doc_spans(),
        transformer_config={"output_hidden_states": True, **NO_DROPOUT},
    )
    nlp = spacy.blank("en")
    doc = nlp("Sara flew to Paris yesterday .")
    model.initialize(X=[doc])
    hf = model.transformer
    batch, backprop = model.begin_update([doc])
    lhs = batch.doc_data[0].model_output.last_hidden_state
    rng = numpy.random.default_rng(0)
    R = rng.normal(size=lhs.shape).astype("f")
    R2 = rng.normal(size=lhs.shape).astype("f")
    coefs = (0.5, -0.25, 1.5)  # embeddings' output and two layers
    backprop([LayerMixGrad(plain=R2, mixes=[(coefs, R)])])
    ours = {n: p.grad.clone() for n, p in hf.named_parameters() if p.grad is not None}
    hf.zero_grad(set_to_none=True)

    ids = torch.tensor(numpy.asarray(batch.doc_data[0].wordpieces.input_ids))
    out = hf(input_ids=ids, attention_mask=torch.ones_like(ids))
    loss = sum(c * (h * torch.from_numpy(R)).sum() for c, h in zip(coefs, out.hidden_states))
    loss = loss + (out.last_hidden_state * torch.from_numpy(R2)).sum()
    loss.backward()
    direct = {n: p.grad for n, p in hf.named_parameters() if p.grad is not None}
    assert ours.keys() == direct.keys() and ours
    for name in ours:
        torch.testing.assert_close(ours[name], direct[name], rtol=1e-4, atol=1e-5)


def test_the_mix_weights_and_scale_get_their_exact_gradients():
    """Checked against central finite differences of <mix(h), dY>."""
    rng = numpy.random.default_rng(1)
    states = [rng.normal(size=(1, 4, 3)).astype("f") for _ in range(3)]
    data = TransformerData(
        wordpieces=None,
        model_output=model_output(last_hidden_state=states[-1], hidden_states=states),
        align=None,
    )
    mix = scalar_mix()
    mix.initialize(X=[data])
    mix.set_param("weights", numpy.asarray([0.3, -0.2, 0.5], dtype="f"))
    mix.set_param("scale", numpy.asarray([1.3], dtype="f"))
    dY = rng.normal(size=(1, 4, 3)).astype("f")
    (out,), backprop = mix([data], is_train=True)
    (grad,) = backprop([dY])
    probs = numpy.exp([0.3, -0.2, 0.5]) / numpy.exp([0.3, -0.2, 0.5]).sum()
    assert numpy.allclose(grad.mixes[0][0], probs * 1.3, atol=1e-6)

    def value(weights, scale):
        mix.set_param("weights", numpy.asarray(weights, dtype="f"))
        mix.set_param("scale", numpy.asarray([scale], dtype="f"))
        (y,), _ = mix([data], is_train=False)
        return float((y.model_output.last_hidden_state.astype("f8") * dY).sum())

    eps = 1e-3
    w = [0.3, -0.2, 0.5]
    for i in range(3):
        up, down = list(w), list(w)
        up[i] += eps
        down[i] -= eps
        numeric = (value(up, 1.3) - value(down, 1.3)) / (2 * eps)
        assert abs(mix.get_grad("weights")[i] - numeric) < 2e-3
    numeric_scale = (value(w, 1.3 + eps) - value(w, 1.3 - eps)) / (2 * eps)
    assert abs(mix.get_grad("scale")[0] - numeric_scale) < 2e-3


def build(path, hidden_states=True):
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "transfer_transformer",
        name="transformer",
        config={
            "model": {
                "@architectures": "spacy-transfer.TransformerModel.v1",
                "name": str(path),
                "get_spans": {"@span_getters": "spacy-transfer.doc_spans.v1"},
                "transformer_config": {"output_hidden_states": hidden_states},
            }
        },
    )
    listener = {
        "@architectures": "spacy-transfer.AllLayersListener.v1",
        "pooling": {"@layers": "reduce_mean.v1"},
    }
    nlp.add_pipe("tagger", config={"model": {"@architectures": "spacy.Tagger.v2", "tok2vec": listener}})
    return nlp


def examples(nlp):
    return [Example.from_dict(nlp.make_doc(t), {"tags": tags}) for t, tags in TRAIN]


def test_the_all_layers_listener_learns_its_mix_and_saves_it(tiny_model, tmp_path):
    nlp = build(tiny_model("roberta"))
    nlp.initialize(lambda: examples(nlp))
    optimizer = Adam(0.01)
    for _ in range(15):
        nlp.update(examples(nlp), sgd=optimizer)
    mix = next(n for n in nlp.get_pipe("tagger").model.walk() if n.name == "trf-scalar-mix")
    assert not numpy.allclose(mix.get_param("weights"), 0.0)  # it moved away from the even mix
    tags = [t.tag_ for t in nlp(TRAIN[0][0])]
    assert tags == TRAIN[0][1]
    nlp.to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p")
    assert [t.tag_ for t in loaded(TRAIN[0][0])] == tags
    again = next(n for n in loaded.get_pipe("tagger").model.walk() if n.name == "trf-scalar-mix")
    assert numpy.array_equal(again.get_param("weights"), mix.get_param("weights"))


def test_without_hidden_states_the_listener_says_what_to_set(tiny_model):
    nlp = build(tiny_model("bert"), hidden_states=False)
    nlp.initialize(lambda: examples(nlp))
    with pytest.raises(UserError, match="needs the hidden states of every layer") as err:
        nlp.update(examples(nlp), sgd=Adam(0.01))
    assert "output_hidden_states = true" in err.value.hint
