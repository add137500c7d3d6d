"""Models that code builds by hand in spacy-transformers' shape run on the surface: an
``HFWrapper`` around any Hugging Face model class (here a sequence classifier, as
spacy-wrap builds), spacy-transformers' ``forward`` over it, and its saved bytes in
spacy-transformers 2.0's format. Also the smaller pieces of its API that its own test
suite uses: ``truncate``'s helpers, the deprecated ``util`` names, and the init configs
of a loaded model."""

from __future__ import annotations

import copy
import warnings
from functools import partial

import numpy
import pytest
import spacy
import srsly
import torch
from thinc.api import Model
from thinc.types import Ragged
from transformers import AutoModelForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput

from spacy_transfer.core.io import is_safetensors
from spacy_transformers.data_classes import HFObjects, WordpieceBatch
from spacy_transformers.layers.hf_wrapper import HFWrapper
from spacy_transformers.layers.transformer_model import (
    _convert_transformer_inputs,
    _convert_transformer_outputs,
    forward,
    huggingface_from_pretrained,
    huggingface_tokenize,
    set_pytorch_transformer,
)
from spacy_transformers.span_getters import get_strided_spans
from spacy_transformers.truncate import _truncate_alignment, _truncate_tokens
from tests.core.transformer.conftest import tiny_model  # noqa: F401  (fixture)


def classifier(name: str, model_cls=AutoModelForSequenceClassification) -> Model:
    """A transformer as spacy-wrap writes one: HFWrapper + spacy-transformers' forward."""

    def init(model: Model, X=None, Y=None) -> None:
        if model.attrs["has_transformer"]:
            return
        hf = huggingface_from_pretrained(name, {}, {}, model_cls=model_cls)
        model.attrs["set_transformer"](model, hf)

    wrapper = HFWrapper(
        HFObjects(None, None, None, {}, {}),
        convert_inputs=_convert_transformer_inputs,
        convert_outputs=_convert_transformer_outputs,
        model_cls=model_cls,
    )
    model = Model(
        "clf_transformer",
        forward,
        init=init,
        layers=[wrapper],
        dims={"nO": None},
        attrs={
            "get_spans": partial(get_strided_spans, window=16, stride=12),
            "name": name,
            "set_transformer": set_pytorch_transformer,
            "has_transformer": False,
            "flush_cache_chance": 0.0,
        },
    )
    return model


def tokenizer_of(model: Model):
    return model.layers[0].shims[0]._hfmodel.tokenizer


def test_a_hand_built_classifier_predicts_and_round_trips_in_spacy_transformers_format(tiny_model):  # noqa: F811
    model = classifier(str(tiny_model("distilbert")))
    model.initialize()
    doc = spacy.blank("en").make_doc("Emoji and symbols show up online.")
    out = model.predict([doc])
    assert isinstance(out.model_output, SequenceClassifierOutput)
    assert out.model_output.logits.shape == (1, 2)  # one span of 16 tokens at most, two labels
    assert len(out.doc_data) == 1 and out.align.lengths.shape[0] == len(doc)

    data = model.to_bytes()
    (shim_bytes,) = srsly.msgpack_loads(data)["shims"][1]
    shim_msg = srsly.msgpack_loads(shim_bytes)
    assert is_safetensors(shim_msg["state"]) and shim_msg["config"]["architectures"]
    again = classifier(str(tiny_model("distilbert"))).from_bytes(data)
    assert isinstance(again.layers[0].shims[0]._hfmodel.transformer, type(model.layers[0].shims[0]._model))
    assert torch.equal(again.predict([doc]).model_output.logits, out.model_output.logits)


def test_set_pytorch_transformer_refuses_a_second_encoder(tiny_model):  # noqa: F811
    model = classifier(str(tiny_model("distilbert")))
    model.initialize()
    hf = huggingface_from_pretrained(
        str(tiny_model("distilbert")), {}, {}, model_cls=AutoModelForSequenceClassification
    )
    with pytest.raises(ValueError, match="second transformer"):
        set_pytorch_transformer(model, hf)


def test_the_layered_forward_sends_gradients_into_the_wrapped_model(tiny_model):  # noqa: F811
    from transformers import AutoModel

    model = classifier(str(tiny_model("distilbert")), model_cls=AutoModel)
    model.initialize()
    docs = [spacy.blank("en").make_doc(t) for t in ("Hello world, this is a test.", "Short one.")]
    batch, backprop = model.begin_update(docs)
    grads = copy.copy(batch.model_output)
    grads["last_hidden_state"] = torch.ones_like(batch.model_output.last_hidden_state)
    d_batch = type(batch)(
        spans=batch.spans, wordpieces=batch.wordpieces, model_output=grads, align=batch.align
    )
    assert backprop(d_batch) == docs
    encoder = model.layers[0].shims[0]._model
    assert all(p.grad is not None for p in encoder.parameters() if p.requires_grad)
    assert encoder.embeddings.word_embeddings.weight.grad.abs().sum() > 0


def test_truncate_helpers_drop_masked_wordpieces_and_reindex_the_alignment():
    strings = [["a", "b", "c", "d"], ["e", "f", "-", "-"]]
    wordpieces = WordpieceBatch(
        strings=strings,
        input_ids=numpy.arange(8, dtype="i").reshape(2, 4),
        attention_mask=numpy.ones((2, 4), dtype="f"),
        lengths=[4, 2],
        token_type_ids=None,
    )
    mask = numpy.array([[1, 1, 1, 0], [1, 1, 1, 0]], dtype=bool).ravel()
    cut = _truncate_tokens(wordpieces, mask)
    assert cut.strings == [["a", "b", "c"], ["e", "f", "-"]] and cut.input_ids.tolist() == [
        [0, 1, 2],
        [4, 5, 6],
    ]
    # tokens: (a b) (c d) | (e) (f): d is dropped, the second row moves up by one
    align = Ragged(numpy.array([0, 1, 2, 3, 4, 5], dtype="i"), numpy.array([2, 2, 1, 1], dtype="i"))
    new = _truncate_alignment(align, mask)
    assert new.lengths.tolist() == [2, 1, 1, 1] and new.dataXd.tolist() == [0, 1, 2, 3, 4]


def test_the_names_spacy_transformers_deprecated_warn(tiny_model):  # noqa: F811
    from spacy_transformers.util import huggingface_from_pretrained as old_from_pretrained
    from spacy_transformers.util import huggingface_tokenize as old_tokenize

    with pytest.warns(DeprecationWarning):
        tokenizer, _ = old_from_pretrained(str(tiny_model("bert")), {})
    with pytest.warns(DeprecationWarning):
        old = old_tokenize(tokenizer, ["a b"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the name it moved to does not warn
        new = huggingface_tokenize(tokenizer, ["a b"])
    assert old["input_texts"] == new["input_texts"]


def test_a_loaded_models_init_configs_are_empty_and_frozen(tiny_model, tmp_path):  # noqa: F811
    nlp = spacy.blank("en")
    trf = nlp.add_pipe("transformer", config={"model": {"name": str(tiny_model("bert"))}})
    nlp.initialize()
    assert trf.model._init_tokenizer_config == {"use_fast": True}
    nlp.to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p").get_pipe("transformer").model
    assert loaded._init_tokenizer_config == {} and loaded._init_transformer_config == {}
    with pytest.raises(NotImplementedError):
        loaded._init_tokenizer_config["use_fast"] = False


def test_tok2vec_transformer_v1_and_v2_are_flat_chains_v3_a_chain_of_chains(tiny_model):  # noqa: F811
    from thinc.api import reduce_mean

    from spacy_transformers.architectures import transformer_tok2vec_v1, transformer_tok2vec_v3
    from spacy_transformers.layers import TransformerModel

    spans = partial(get_strided_spans, window=16, stride=12)
    v1 = transformer_tok2vec_v1(str(tiny_model("bert")), spans, {}, reduce_mean())
    v3 = transformer_tok2vec_v3(str(tiny_model("bert")), spans, {}, reduce_mean())
    assert isinstance(v1.layers[0], TransformerModel) and len(v1.layers) == 3
    assert isinstance(v3.layers[0].layers[0], TransformerModel) and len(v3.layers) == 2
