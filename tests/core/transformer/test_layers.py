"""``freeze_layers = N``: the embeddings and the bottom N layers of the encoder keep their
weights bit for bit through training (and after saving and loading); the layers above learn."""

from __future__ import annotations

import pytest
import spacy
import torch
from spacy.training import Example
from thinc.api import Adam

from spacy_transfer.core.transformer import get_hf_model
from spacy_transfer.core.transformer.layers import encoder_layers
from spacy_transfer.errors import UserError

TRAIN = [
    ("Sara flew to Paris yesterday .", ["NNP", "VBD", "IN", "NNP", "NN", "."]),
    ("Google hired Tom in Berlin .", ["NNP", "VBD", "NNP", "IN", "NNP", "."]),
]


def build(path, freeze_layers):
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "transfer_transformer",
        name="transformer",
        config={
            "model": {
                "@architectures": "spacy-transfer.TransformerModel.v1",
                "name": str(path),
                "get_spans": {"@span_getters": "spacy-transfer.doc_spans.v1"},
                "freeze_layers": freeze_layers,
            }
        },
    )
    listener = {
        "@architectures": "spacy-transfer.TransformerListener.v1",
        "pooling": {"@layers": "reduce_mean.v1"},
    }
    nlp.add_pipe("tagger", config={"model": {"@architectures": "spacy.Tagger.v2", "tok2vec": listener}})
    return nlp


def train(nlp, steps=3):
    examples = [Example.from_dict(nlp.make_doc(t), {"tags": tags}) for t, tags in TRAIN]
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer, drop=0.1)


def weights(nlp):
    return {k: v.detach().clone() for k, v in get_hf_model(nlp.get_pipe("transformer")).state_dict().items()}


@pytest.mark.parametrize("arch", ["bert", "distilbert", "modernbert"])
def test_frozen_layers_keep_their_weights_bit_for_bit_and_the_rest_learns(tiny_model, arch):
    nlp = build(tiny_model(arch), freeze_layers=1)
    nlp.initialize(lambda: [Example.from_dict(nlp.make_doc(t), {"tags": g}) for t, g in TRAIN])
    hf = get_hf_model(nlp.get_pipe("transformer"))
    bottom = {id(p) for p in encoder_layers(hf)[0].parameters()}
    embeddings = {id(p) for p in hf.embeddings.parameters()}
    before = weights(nlp)
    train(nlp)
    after = weights(nlp)
    names = {name for name, p in hf.named_parameters() if id(p) in bottom | embeddings}
    assert names and all(torch.equal(before[n], after[n]) for n in names), "frozen weights moved"
    top = [n for n, p in hf.named_parameters() if p.requires_grad]
    assert top and any(not torch.equal(before[n], after[n]) for n in top), "the top layer learned nothing"


def test_a_saved_pipeline_stays_frozen_when_loaded_and_trained_further(tiny_model, tmp_path):
    nlp = build(tiny_model("bert"), freeze_layers=2)  # both layers and the embeddings: only the tagger learns
    train(nlp, steps=1)
    nlp.to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p")
    before = weights(loaded)
    examples = [Example.from_dict(loaded.make_doc(t), {"tags": tags}) for t, tags in TRAIN]
    optimizer = loaded.resume_training()
    for _ in range(2):
        loaded.update(examples, sgd=optimizer)
    assert all(torch.equal(before[k], v) for k, v in weights(loaded).items())
    assert not any(p.requires_grad for p in get_hf_model(loaded.get_pipe("transformer")).encoder.parameters())


def test_more_layers_than_the_encoder_has_is_refused_with_its_depth(tiny_model):
    nlp = build(tiny_model("bert"), freeze_layers=5)
    with pytest.raises(UserError, match="freeze_layers is 5, but the encoder has 2 layers"):
        nlp.initialize(lambda: [Example.from_dict(nlp.make_doc(t), {"tags": g}) for t, g in TRAIN])


def test_albert_shares_its_layers_and_says_so(tiny_model):
    nlp = build(tiny_model("albert"), freeze_layers=1)
    with pytest.raises(UserError, match="no list of its 2 layers"):
        nlp.initialize(lambda: [Example.from_dict(nlp.make_doc(t), {"tags": g}) for t, g in TRAIN])


def test_no_freezing_by_default_trains_every_layer(tiny_model):
    nlp = build(tiny_model("bert"), freeze_layers=0)
    train(nlp, steps=1)
    hf = get_hf_model(nlp.get_pipe("transformer"))
    assert all(p.requires_grad for p in hf.parameters())
    assert [t.tag_ for t in nlp("Sara flew to Paris .")] != [""] * 5  # the pipeline predicts
