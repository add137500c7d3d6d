"""LoRA adapters (``[components.transformer.model.adapter]``, ``spacy-transfer.LoRA.v1``): only the
adapters and the heads train, the encoder's own weights stay bit for bit; a pipeline saves
merged (a plain encoder) or unmerged (peft's files), and both load with ``spacy.load``."""

from __future__ import annotations

import subprocess
import sys

import numpy
import pytest
import spacy
import torch
from spacy.training import Example
from thinc.api import SGD, Adam

from spacy_transfer.core.transformer import get_hf_model
from spacy_transfer.core.transformer.adapters import DEFAULT_TARGETS, has_adapters, unmerged_saves
from spacy_transfer.errors import UserError

from .tiny import ARCHS

TRAIN = [
    ("Sara flew to Paris yesterday .", ["NNP", "VBD", "IN", "NNP", "NN", "."]),
    ("Google hired Tom in Berlin .", ["NNP", "VBD", "NNP", "IN", "NNP", "."]),
]
TEXT = "Sara flew to Paris yesterday ."
LISTENER = {
    "@architectures": "spacy-transfer.TransformerListener.v1",
    "pooling": {"@layers": "reduce_mean.v1"},
}


def lora(**settings):
    return {"@adapters": "spacy-transfer.LoRA.v1", "r": 4, **settings}


def build(path, adapter, **model_settings):
    nlp = spacy.blank("en")
    model = {
        "@architectures": "spacy-transfer.TransformerModel.v1",
        "name": str(path),
        "get_spans": {"@span_getters": "spacy-transfer.doc_spans.v1"},
        "adapter": adapter,
        **model_settings,
    }
    nlp.add_pipe("transfer_transformer", name="transformer", config={"model": model})
    nlp.add_pipe("tagger", config={"model": {"@architectures": "spacy.Tagger.v2", "tok2vec": LISTENER}})
    return nlp


def examples(nlp):
    return [Example.from_dict(nlp.make_doc(t), {"tags": tags}) for t, tags in TRAIN]


def train(nlp, steps=4, optimizer=None):
    nlp.initialize(lambda: examples(nlp))
    optimizer = optimizer or Adam(0.01)
    for _ in range(steps):
        nlp.update(examples(nlp), sgd=optimizer)
    return optimizer


def encoder_state(nlp):
    return {k: v.detach().clone() for k, v in get_hf_model(nlp.get_pipe("transformer")).state_dict().items()}


def hidden(nlp, text=TEXT):
    return numpy.asarray(nlp(text)._.trf_data.model_output.last_hidden_state)


@pytest.mark.parametrize("arch", ARCHS)
def test_only_the_adapters_and_the_heads_train_on_every_architecture(tiny_model, arch):
    nlp = build(tiny_model(arch), lora())
    nlp.initialize(lambda: examples(nlp))
    before = encoder_state(nlp)
    optimizer = train(nlp)
    after = encoder_state(nlp)
    base = [k for k in before if ".lora_" not in k]
    adapters = [k for k in before if ".lora_" in k]
    assert adapters, "no adapters were put in"
    assert all(torch.equal(before[k], after[k]) for k in base), "an encoder weight moved"
    assert any(not torch.equal(before[k], after[k]) for k in adapters), "the adapters learned nothing"
    # The optimizer keeps state for the adapters and the tagger's own weights, nothing else.
    shim = next(s for n in nlp.get_pipe("transformer").model.walk() for s in n.shims)
    torch_keys = {k[1] for k in optimizer.mom1 if isinstance(k, tuple) and k[0] == shim.id}
    assert torch_keys and all(".lora_" in k for k in torch_keys)


def test_every_named_architecture_has_its_own_default_targets(tiny_model):
    from transformers import AutoConfig

    types = {AutoConfig.from_pretrained(tiny_model(arch)).model_type for arch in ARCHS}
    assert types <= set(DEFAULT_TARGETS)


def test_a_merged_pipeline_loads_as_a_plain_encoder_in_a_fresh_interpreter(tiny_model, tmp_path):
    nlp = build(tiny_model("bert"), lora())
    train(nlp)
    expected = hidden(nlp)
    nlp.to_disk(tmp_path / "p")
    folder = tmp_path / "p" / "transformer" / "model" / "hf0"
    assert not (folder / "adapter").exists()
    code = (
        "import sys, numpy, spacy\n"
        "sys.modules['peft'] = None  # a merged pipeline needs no peft to load and predict\n"
        f"nlp = spacy.load({str(tmp_path / 'p')!r})\n"
        f"numpy.save({str(tmp_path / 'out.npy')!r}, nlp({TEXT!r})._.trf_data.model_output.last_hidden_state)\n"
        f"print([t.tag_ for t in nlp({TEXT!r})])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert numpy.allclose(numpy.load(tmp_path / "out.npy"), expected, atol=1e-5)
    assert done.stdout.strip() == str([t.tag_ for t in nlp(TEXT)])


def test_unmerged_adapters_are_saved_as_peft_files_and_load_as_they_are(tiny_model, tmp_path):
    from peft import PeftModel
    from transformers import AutoModel

    nlp = build(tiny_model("roberta"), lora(merge_adapters=False))
    train(nlp)
    nlp.to_disk(tmp_path / "p")
    folder = tmp_path / "p" / "transformer" / "model" / "hf0"
    assert (folder / "adapter" / "adapter_config.json").exists()
    loaded = spacy.load(tmp_path / "p")
    assert has_adapters(get_hf_model(loaded.get_pipe("transformer")))
    assert numpy.array_equal(hidden(loaded), hidden(nlp))
    # The folder is a base model plus a peft adapter: peft itself reads it.
    peft_model = PeftModel.from_pretrained(AutoModel.from_pretrained(folder), folder / "adapter").eval()
    ids = torch.tensor([nlp(TEXT)._.trf_data.wordpieces.input_ids[0]])
    with torch.no_grad():
        theirs = peft_model(input_ids=ids).last_hidden_state.numpy()
    assert numpy.allclose(theirs, hidden(nlp), atol=1e-5)


def test_nlp_to_bytes_round_trips_unmerged_adapters(tiny_model):
    nlp = build(tiny_model("bert"), lora())
    train(nlp)
    with unmerged_saves():
        data = nlp.to_bytes()
    again = build(tiny_model("bert"), lora())
    again.from_bytes(data)
    assert has_adapters(get_hf_model(again.get_pipe("transformer")))
    assert numpy.array_equal(hidden(again), hidden(nlp))


def test_a_merged_pipeline_trained_further_gets_fresh_adapters_and_keeps_its_weights(tiny_model, tmp_path):
    nlp = build(tiny_model("bert"), lora())
    train(nlp)
    nlp.to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p")
    hf = get_hf_model(loaded.get_pipe("transformer"))
    assert not has_adapters(hf)  # predicting at a plain encoder's speed
    before = {k: v.clone() for k, v in hf.state_dict().items()}
    optimizer = loaded.resume_training()
    for _ in range(2):
        loaded.update(examples(loaded), sgd=optimizer)
    assert has_adapters(hf)
    # The merged weights are now the frozen base under the new adapters.
    after = {k.replace(".base_layer", ""): v for k, v in hf.state_dict().items() if ".lora_" not in k}
    assert after.keys() == before.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_int8_prediction_quantizes_the_merged_encoder(tiny_model):
    nlp = build(tiny_model("bert"), lora(merge_adapters=False))
    train(nlp)
    fp32 = hidden(nlp)
    nlp.get_pipe("transformer").quantize = "int8"
    nlp.get_pipe("transformer")._apply_cfg()
    int8 = hidden(nlp)
    assert not numpy.array_equal(int8, fp32)
    cos = (int8 * fp32).sum(-1) / numpy.linalg.norm(int8, axis=-1) / numpy.linalg.norm(fp32, axis=-1)
    assert cos.min() > 0.95
    assert has_adapters(get_hf_model(nlp.get_pipe("transformer")))  # training state untouched


def test_mixed_precision_trains_the_adapters(tiny_model, monkeypatch):
    monkeypatch.setenv("SPACY_TRANSFER_FORCE_BF16", "1")
    nlp = build(tiny_model("bert"), lora(), mixed_precision=True)
    nlp.initialize(lambda: examples(nlp))
    before = encoder_state(nlp)
    train(nlp, steps=2)
    after = encoder_state(nlp)
    assert any(not torch.equal(before[k], after[k]) for k in before if ".lora_" in k)
    assert all(torch.equal(before[k], after[k]) for k in before if ".lora_" not in k)


def test_the_independent_tok2vec_transformer_takes_an_adapter(tiny_model):
    nlp = spacy.blank("en")
    tok2vec = {
        "@architectures": "spacy-transfer.Tok2VecTransformer.v1",
        "name": str(tiny_model("distilbert")),
        "get_spans": {"@span_getters": "spacy-transfer.doc_spans.v1"},
        "tokenizer_config": {},
        "pooling": {"@layers": "reduce_mean.v1"},
        "adapter": lora(),
    }
    nlp.add_pipe("tagger", config={"model": {"@architectures": "spacy.Tagger.v2", "tok2vec": tok2vec}})
    nlp.initialize(lambda: examples(nlp))
    hf = get_hf_model(nlp.get_pipe("tagger"))
    before = {k: v.clone() for k, v in hf.state_dict().items()}
    optimizer = Adam(0.01)
    for _ in range(3):
        nlp.update(examples(nlp), sgd=optimizer)
    after = hf.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if ".lora_" not in k)
    assert any(not torch.equal(before[k], after[k]) for k in before if ".lora_" in k)


def test_thinc_optimizers_other_than_adam_update_the_adapters_too(tiny_model):
    nlp = build(tiny_model("bert"), lora())
    nlp.initialize(lambda: examples(nlp))
    before = encoder_state(nlp)
    train(nlp, steps=2, optimizer=SGD(0.1))
    after = encoder_state(nlp)
    assert any(not torch.equal(before[k], after[k]) for k in before if ".lora_B" in k)


# ---------------------------------------------------------------------------- bad input


def test_target_modules_the_model_lacks_are_refused_with_the_names_it_has(tiny_model):
    nlp = build(tiny_model("distilbert"), lora(target_modules=["query", "value"]))
    with pytest.raises(UserError) as err:
        nlp.initialize(lambda: examples(nlp))
    text = str(err.value) + str(err.value.rows)
    assert "'query'" in text and "q_lin" in text and "transformer.layer.N.attention.q_lin" in text


@pytest.mark.parametrize("r", [0, -2])
def test_a_rank_that_is_not_positive_is_refused(tiny_model, r):
    with pytest.raises(UserError, match="LoRA rank r must be a positive integer"):
        build(tiny_model("bert"), lora(r=r))


def test_without_peft_the_error_says_how_to_install_it(tiny_model, tmp_path):
    code = (
        "import sys\n"
        "sys.modules['peft'] = None  # as if peft were not installed\n"
        "import spacy\n"
        "from spacy_transfer.errors import UserError\n"
        "nlp = spacy.blank('en')\n"
        "nlp.add_pipe('transfer_transformer', config={'model': {\n"
        "    '@architectures': 'spacy-transfer.TransformerModel.v1',\n"
        f"    'name': {str(tiny_model('bert'))!r},\n"
        "    'get_spans': {'@span_getters': 'spacy-transfer.doc_spans.v1'},\n"
        "    'adapter': {'@adapters': 'spacy-transfer.LoRA.v1'}}})\n"
        "try:\n"
        "    nlp.initialize()\n"
        "except UserError as e:\n"
        "    print(e.message, '|', e.hint)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "need the peft library" in done.stdout and "pip install 'spacy-transfer[peft]'" in done.stdout


def test_the_adapters_train_at_the_optimizers_rate_times_learn_rate_scale(tiny_model):
    """With SGD, a step moves each adapter weight by rate x scale x gradient: scale 4 moves the
    same weights four times as far as scale 1, from the same start."""
    from thinc.api import fix_random_seed

    moves = {}
    path = tiny_model("bert")  # built (drawing random numbers) before the seed is fixed
    for scale in (1.0, 4.0):
        fix_random_seed(0)
        nlp = build(path, lora(learn_rate_scale=scale))
        nlp.initialize(lambda nlp=nlp: examples(nlp))
        optimizer = SGD(0.05, L2=0.0)  # no weight decay: it would move A by another amount per scale
        nlp.update(examples(nlp), sgd=optimizer, drop=0.0)  # the tagger's zero output layer: no gradient yet
        before = encoder_state(nlp)
        nlp.update(examples(nlp), sgd=optimizer, drop=0.0)
        moves[scale] = {k: v - before[k] for k, v in encoder_state(nlp).items() if ".lora_B" in k}
    assert any(m.abs().max() > 0 for m in moves[1.0].values())
    for k, m in moves[1.0].items():
        torch.testing.assert_close(moves[4.0][k], 4.0 * m, rtol=1e-4, atol=1e-8)


def test_alpha_defaults_to_r_so_the_adapters_update_is_not_rescaled():
    from spacy_transfer.core.transformer import adapters

    assert adapters.lora(r=4).alpha == 4.0 and adapters.lora(r=16, alpha=8.0).alpha == 8.0
    model = torch.nn.Sequential(torch.nn.Linear(6, 6))
    adapters.inject(model, adapters.lora(r=4, target_modules=["0"]))
    assert model[0].scaling == {"default": 1.0}
