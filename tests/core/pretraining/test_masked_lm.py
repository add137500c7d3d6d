"""Masked-LM pretraining of a transformer (tiny random-init BERT, tokenizer trained in the
test): the loss falls, resume is exact, and `train` starts from the adapted encoder."""

from __future__ import annotations

import numpy
import pytest
import srsly
import torch
from thinc.api import Config

from spacy_transfer.core.config.generate import ConfigRequest, generate_config
from spacy_transfer.core.corpora import read_conllu, write_docbin
from spacy_transfer.core.pretraining import pretrain, setup_pretraining
from spacy_transfer.core.pretraining.masking import IGNORE, WordpieceMasker
from spacy_transfer.core.training.initialize import init_nlp_with_init_tok2vec
from spacy_transfer.core.transformer.model import get_hf_model, get_tokenizer
from spacy_transfer.errors import UserError

from ...conftest import DATA
from ..transformer.conftest import make_tiny_model_dir


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("mlm"), "bert", max_len=64)


@pytest.fixture(scope="module")
def ud_slice(tmp_path_factory):
    path = tmp_path_factory.mktemp("ud") / "train.spacy"
    write_docbin(read_conllu(DATA / "ud_english-ewt" / "en_ewt-ud-dev.conllu", n_sents=5, limit=20), path)
    return path


def trf_config(tiny_bert, raw_text, **overrides) -> Config:
    """What `init config --transformer MODEL --pretraining` writes, sized for a test."""
    text = generate_config(ConfigRequest(pipeline=["tagger"], transformer=str(tiny_bert)), pretraining=True)
    config = Config().from_str(text, interpolate=False)
    values = {
        "paths.raw_text": str(raw_text),
        "pretraining.max_epochs": 3,
        "pretraining.batcher.size": 400,
        "pretraining.optimizer.learn_rate": 0.002,
        "corpora.pretrain.max_length": 200,
        "corpora.pretrain.limit": 25,
        "components.transformer.model.get_spans.window": 48,
        "components.transformer.model.get_spans.stride": 40,
    }
    values.update(overrides)
    for dotted, value in values.items():
        *path, key = dotted.split(".")
        node = config
        for p in path:
            node = node[p]
        node[key] = value
    return config


def test_init_config_gives_transformers_the_masked_lm_objective(tiny_bert, raw_jsonl):
    config = trf_config(tiny_bert, raw_jsonl)
    assert config["pretraining"]["component"] == "transformer"
    assert config["pretraining"]["objective"]["@architectures"] == "spacy-transfer.PretrainMaskedLM.v1"


def test_masked_lm_loss_falls_and_resume_is_exact(tiny_bert, raw_jsonl, tmp_path):
    full = tmp_path / "full"
    pretrain(trf_config(tiny_bert, raw_jsonl), full)
    log = list(srsly.read_jsonl(full / "log.jsonl"))
    assert log[2]["epoch_loss"] < 0.9 * log[0]["epoch_loss"], log
    part = tmp_path / "part"
    pretrain(trf_config(tiny_bert, raw_jsonl, **{"pretraining.max_epochs": 1}), part, skip_last=True)
    pretrain(trf_config(tiny_bert, raw_jsonl), part, resume_path=part / "model0.bin")
    assert (full / "model2.bin").read_bytes() == (part / "model2.bin").read_bytes()


def test_train_starts_from_the_adapted_encoder(tiny_bert, raw_jsonl, ud_slice, tmp_path):
    out = tmp_path / "pre"
    pretrain(trf_config(tiny_bert, raw_jsonl, **{"pretraining.max_epochs": 1}), out)
    from safetensors.numpy import load_file

    adapted = load_file(str(out / "model-last.bin"))
    config = trf_config(
        tiny_bert,
        raw_jsonl,
        **{
            "paths.init_tok2vec": str(out / "model-last.bin"),
            "paths.train": str(ud_slice),
            "paths.dev": str(ud_slice),
        },
    )
    nlp = init_nlp_with_init_tok2vec(config)
    state = get_hf_model(nlp.get_pipe("transformer")).state_dict()
    from transformers import AutoModel

    base = AutoModel.from_pretrained(tiny_bert).state_dict()
    changed = 0
    for name, value in adapted.items():
        assert numpy.array_equal(state[name].numpy(), value), name
        changed += not numpy.array_equal(base[name].numpy(), value)
    assert changed > 10  # pretraining really moved the weights the pipeline now starts from


def test_encoder_weights_of_another_model_fail_loudly(tiny_bert, raw_jsonl, ud_slice, tmp_path):
    out = tmp_path / "pre"
    pretrain(trf_config(tiny_bert, raw_jsonl, **{"pretraining.max_epochs": 1}), out)
    other = make_tiny_model_dir(tmp_path / "other", "roberta", max_len=64)
    config = trf_config(
        other,
        raw_jsonl,
        **{
            "paths.init_tok2vec": str(out / "model-last.bin"),
            "paths.train": str(ud_slice),
            "paths.dev": str(ud_slice),
        },
    )
    with pytest.raises(UserError, match="do not fit the transformer"):
        init_nlp_with_init_tok2vec(config)


def test_whole_word_masking_masks_all_pieces_of_a_token(tiny_bert, raw_jsonl):
    setup = setup_pretraining(trf_config(tiny_bert, raw_jsonl))
    tokenizer = get_tokenizer(setup.nlp.get_pipe("transformer"))
    masker = WordpieceMasker(tokenizer, mask_prob=0.5, whole_word=True, max_length=64, seed=1)
    doc = setup.nlp.make_doc(
        "Extraordinarily unpredictable hippopotamuses were photographed yesterday in Zürich."
    )
    ids, words = masker.pieces(doc)
    assert len(ids) > len(doc)  # the tiny vocabulary splits words into several pieces
    _, labels = masker([doc])
    picked = numpy.concatenate([lab[1:-1] for lab in labels]) != IGNORE  # drop [CLS]/[SEP]
    for w in range(len(doc)):
        assert len(set(picked[words == w])) <= 1  # all of a word's pieces, or none


def test_long_docs_are_cut_into_windows(tiny_bert, raw_jsonl):
    setup = setup_pretraining(trf_config(tiny_bert, raw_jsonl))
    tokenizer = get_tokenizer(setup.nlp.get_pipe("transformer"))
    masker = WordpieceMasker(tokenizer, mask_prob=0.15, whole_word=True, max_length=16, seed=0)
    doc = setup.nlp.make_doc(" ".join(["The quick brown fox jumps over the lazy dog."] * 10))
    inputs, _ = masker([doc])
    assert len(inputs) > 1 and all(len(x) <= 16 for x in inputs)
    assert all(x[0] == tokenizer.cls_token_id and x[-1] == tokenizer.sep_token_id for x in inputs)


def test_tok2vec_objectives_refuse_a_transformer(tiny_bert, raw_jsonl, tmp_path):
    objective = {
        "@architectures": "spacy.PretrainCharacters.v1",
        "maxout_pieces": 2,
        "hidden_size": 32,
        "n_characters": 2,
    }
    with pytest.raises(UserError, match="is a transformer"):
        pretrain(trf_config(tiny_bert, raw_jsonl, **{"pretraining.objective": objective}), tmp_path / "out")


def test_masked_lm_refuses_a_tok2vec_layer(raw_jsonl, tmp_path):
    from .conftest import tiny_config

    objective = {"@architectures": "spacy-transfer.PretrainMaskedLM.v1"}
    with pytest.raises(UserError, match="needs a transformer"):
        pretrain(tiny_config(raw_jsonl, {"pretraining.objective": objective}), tmp_path / "out")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_masked_lm_on_gpu(tiny_bert, raw_jsonl, tmp_path):
    pretrain(trf_config(tiny_bert, raw_jsonl, **{"pretraining.max_epochs": 2}), tmp_path / "out", use_gpu=0)
    log = list(srsly.read_jsonl(tmp_path / "out" / "log.jsonl"))
    assert log[1]["epoch_loss"] < log[0]["epoch_loss"]


def test_short_passes_give_the_gradient_of_one_padded_pass(tiny_bert, raw_jsonl):
    """Windows go through length-sorted passes (each backward at once, to bound memory); the
    loss and gradients are those of the mean over all picked wordpieces of the shard."""
    from spacy_transfer.core.upstream import shim_module

    setup = setup_pretraining(trf_config(tiny_bert, raw_jsonl))
    objective = setup.objective
    mlm = shim_module(objective.shim)
    for module in mlm.modules():  # no dropout: both runs see the same network
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    texts = [
        "A short one.",
        "The quick brown fox jumps over the lazy dog. " * 6,
        "Two words",
        "Hello world, again.",
    ]
    docs = [setup.nlp.make_doc(t) for t in texts]
    state = objective.masker.get_state()

    def run(max_items):
        objective.max_batch_items = max_items
        objective.masker.set_state(state)
        mlm.zero_grad(set_to_none=True)
        loss = objective.backward(docs).loss
        return loss, {n: p.grad.clone() for n, p in mlm.named_parameters() if p.grad is not None}

    one_loss, one = run(10_000)
    many_loss, many = run(64)  # windows of up to 64 wordpieces: several passes
    assert many_loss == pytest.approx(one_loss, rel=1e-5)
    assert one.keys() == many.keys()
    for name in one:
        assert torch.allclose(one[name], many[name], atol=1e-6), name


# ---------------------------------------------------------------------------- with a LoRA adapter

LORA = {"@adapters": "spacy-transfer.LoRA.v1", "r": 4, "alpha": 8.0}


def test_pretraining_with_an_adapter_writes_the_adapters_alone_and_resumes_exactly(
    tiny_bert, raw_jsonl, tmp_path
):
    from safetensors.numpy import load_file

    from spacy_transfer.core.pretraining.adapter_weights import ADAPTER_FILE_FORMAT
    from spacy_transfer.core.pretraining.weights import safetensors_metadata

    adapter = {"components.transformer.model.adapter": LORA}
    full = tmp_path / "full"
    pretrain(trf_config(tiny_bert, raw_jsonl, **adapter), full)
    data = (full / "model-last.bin").read_bytes()
    assert safetensors_metadata(data)["format"] == ADAPTER_FILE_FORMAT
    weights = load_file(str(full / "model-last.bin"))
    assert weights and all(".lora_" in k for k in weights)
    log = list(srsly.read_jsonl(full / "log.jsonl"))
    assert log[2]["epoch_loss"] < log[0]["epoch_loss"], log
    part = tmp_path / "part"
    pretrain(
        trf_config(tiny_bert, raw_jsonl, **adapter, **{"pretraining.max_epochs": 1}), part, skip_last=True
    )
    pretrain(trf_config(tiny_bert, raw_jsonl, **adapter), part, resume_path=part / "model0.bin")
    assert (full / "model2.bin").read_bytes() == (part / "model2.bin").read_bytes()


def test_train_loads_pretrained_adapters_into_its_own_or_merges_them(
    tiny_bert, raw_jsonl, ud_slice, tmp_path
):
    from peft import get_peft_model_state_dict
    from safetensors.torch import load_file
    from transformers import AutoModel

    out = tmp_path / "pre"
    pretrain(
        trf_config(
            tiny_bert,
            raw_jsonl,
            **{"components.transformer.model.adapter": LORA, "pretraining.max_epochs": 1},
        ),
        out,
    )
    pretrained = load_file(str(out / "model-last.bin"))
    paths = {
        "paths.init_tok2vec": str(out / "model-last.bin"),
        "paths.train": str(ud_slice),
        "paths.dev": str(ud_slice),
    }
    # The training config has the same adapters: they start from the pretrained ones.
    nlp = init_nlp_with_init_tok2vec(
        trf_config(tiny_bert, raw_jsonl, **paths, **{"components.transformer.model.adapter": LORA})
    )
    own = get_peft_model_state_dict(get_hf_model(nlp.get_pipe("transformer")))
    assert own.keys() == pretrained.keys()
    assert all(torch.equal(own[k], pretrained[k]) for k in own)
    # Without an adapter the pretrained adapters are merged into the encoder it fine-tunes.
    nlp = init_nlp_with_init_tok2vec(trf_config(tiny_bert, raw_jsonl, **paths))
    state = get_hf_model(nlp.get_pipe("transformer")).state_dict()
    base = AutoModel.from_pretrained(tiny_bert).state_dict()
    assert state.keys() == base.keys()
    a = pretrained["encoder.layer.0.attention.self.query.lora_A.weight"]
    b = pretrained["encoder.layer.0.attention.self.query.lora_B.weight"]
    expected = base["encoder.layer.0.attention.self.query.weight"] + (b @ a) * (8.0 / 4)
    torch.testing.assert_close(state["encoder.layer.0.attention.self.query.weight"], expected)
    assert all(p.requires_grad for p in get_hf_model(nlp.get_pipe("transformer")).parameters())


def test_the_masked_lm_head_leaves_the_encoders_fast_cpu_dropout_in_place(tiny_bert, raw_jsonl):
    """Loading the head does not reset the encoder's attention: the shim installed fast CPU
    dropout once, and masked-LM pretraining trains through it."""
    from spacy_transfer.core import upstream
    from spacy_transfer.core.transformer import fast_dropout

    setup = setup_pretraining(trf_config(tiny_bert, raw_jsonl))
    encoder = get_hf_model(setup.nlp.get_pipe("transformer"))
    assert upstream.hf_attention_implementation(encoder) == fast_dropout.ATTENTION
    mlm = setup.objective.shim._model
    assert getattr(mlm, mlm.base_model_prefix) is encoder
