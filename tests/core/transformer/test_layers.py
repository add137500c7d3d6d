"""``freeze_layers = N``: the embeddings and the bottom N layers of the encoder keep their
weights bit for bit through training (and after saving and loading); the layers above learn."""

from __future__ import annotations

import pytest
import spacy
import torch
from spacy.training import Example
from thinc.api import SGD, Adam

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


# ---------------------------------------------------------------------------- layer_lr_decay


def build_with(path, **settings):
    nlp = build(path, freeze_layers=settings.pop("freeze_layers", 0))
    model = nlp.get_pipe("transformer").model
    from spacy_transfer.core.transformer.layers import check_control

    shim = model.layers[0].shims[0]
    shim.control = check_control(
        shim.freeze_layers, settings.get("lr_decay", 1.0), settings.get("unfreeze", 0)
    )
    return nlp


def first_step_moves(path, optimizer, **settings):
    """Per encoder weight, what the first optimizer step with a gradient changed (no dropout,
    fixed seed; the tagger's output layer starts at zero, so the first update sends none)."""
    from thinc.api import fix_random_seed

    fix_random_seed(0)
    nlp = build_with(path, **settings)
    examples = [Example.from_dict(nlp.make_doc(t), {"tags": tags}) for t, tags in TRAIN]
    nlp.initialize(lambda: examples)
    nlp.update(examples, sgd=optimizer, drop=0.0)
    before = weights(nlp)
    nlp.update(examples, sgd=optimizer, drop=0.0)
    return {k: v - before[k] for k, v in weights(nlp).items()}


@pytest.mark.parametrize("make_optimizer", [lambda: Adam(0.01, grad_clip=0.0), lambda: SGD(0.1)])
def test_each_lower_layer_learns_at_the_rate_above_times_the_decay(tiny_model, make_optimizer):
    """With decay 0.5 on a 2-layer BERT, a step moves layer 1 (the top) as without decay,
    layer 0 by half, the embeddings by a quarter (Adam's fused path and thinc's SGD alike)."""
    path = tiny_model("bert")
    plain = first_step_moves(path, make_optimizer())
    decayed = first_step_moves(path, make_optimizer(), lr_decay=0.5)
    for name, scale in (("encoder.layer.1.", 1.0), ("encoder.layer.0.", 0.5), ("embeddings.", 0.25)):
        keys = [k for k in plain if k.startswith(name) and plain[k].abs().max() > 0]
        assert keys, name
        for k in keys:
            torch.testing.assert_close(decayed[k], plain[k] * scale, rtol=1e-4, atol=1e-7)


def test_a_decay_outside_zero_to_one_is_refused(tiny_model):
    from spacy_transfer.core.transformer.layers import check_control

    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(UserError, match="layer_lr_decay must be in"):
            check_control(0, bad, 0)
    with pytest.raises(UserError, match="unfreeze_every must be a number of steps"):
        check_control(0, 1.0, -3)


# ---------------------------------------------------------------------------- unfreeze_every


def test_gradual_unfreezing_opens_one_layer_every_k_updates_top_down(tiny_model):
    """unfreeze_every = 2 on a 2-layer BERT: updates 1-2 train layer 1 only, 3-4 layer 0 as well,
    the embeddings from the 5th; anything not yet open keeps its weights bit for bit."""
    nlp = build_with(tiny_model("bert"), unfreeze=2)
    examples = [Example.from_dict(nlp.make_doc(t), {"tags": tags}) for t, tags in TRAIN]
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    opened = []
    for _ in range(6):
        before = weights(nlp)
        nlp.update(examples, sgd=optimizer)
        after = weights(nlp)
        moved = {_block(k) for k in before if not torch.equal(before[k], after[k])}
        opened.append(sorted(moved))
    # The tagger's output layer starts at zero: the first update's gradient is zero everywhere.
    assert opened[0] == [] and opened[1] == ["encoder.1"]
    assert opened[2] == opened[3] == ["encoder.0", "encoder.1"]
    assert opened[4] == opened[5] == ["embeddings", "encoder.0", "encoder.1"]


def _block(weight_name):
    """ "embeddings" or "encoder.<layer>" for a BERT weight name."""
    parts = weight_name.split(".")
    return f"encoder.{parts[2]}" if parts[0] == "encoder" else parts[0]


def test_unfreezing_respects_frozen_layers(tiny_model):
    nlp = build_with(tiny_model("bert"), unfreeze=1, freeze_layers=1)
    train(nlp, steps=4)
    hf = get_hf_model(nlp.get_pipe("transformer"))
    frozen = [p for p in [*hf.embeddings.parameters(), *encoder_layers(hf)[0].parameters()]]
    assert not any(p.requires_grad for p in frozen)
