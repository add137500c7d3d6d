"""What code written for spacy-transformers 1.4 reaches through the model: the Hugging Face
encoder and tokenizer (``trf.model.transformer`` / ``.tokenizer``), ``HFObjects`` and
``set_transformer``, ``WordpieceBatch.from_batch_encoding``, the listener's ``verify_inputs``,
and the model's ``flush_cache_chance`` / ``set_logger`` knobs."""

from __future__ import annotations

import io
import random

import numpy
import pytest
import spacy
import torch
from transformers import AutoModel, AutoTokenizer

from spacy_transformers.align import get_span2wp_from_offset_mapping
from spacy_transformers.data_classes import HFObjects, WordpieceBatch
from spacy_transformers.layers import TransformerListener, TransformerModel
from spacy_transformers.layers.transformer_model import huggingface_from_pretrained, set_logger
from spacy_transformers.util import huggingface_tokenize
from tests.core.transformer.conftest import (
    CORPUS,
    minilm_path,  # noqa: F401  (fixture)
    tiny_model,  # noqa: F401  (fixture)
)


def _nlp(path, initialize=True):
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "transformer",
        config={"model": {"@architectures": "spacy-transformers.TransformerModel.v3", "name": str(path)}},
    )
    if initialize:
        nlp.initialize()
    return nlp


def _forward(hf_model, tokenizer, text):
    with torch.inference_mode():
        return hf_model.eval()(**tokenizer(text, return_tensors="pt")).last_hidden_state[0].numpy()


def test_model_transformer_and_tokenizer_are_the_hugging_face_objects(tiny_model, tmp_path):
    nlp = _nlp(tiny_model("bert"), initialize=False)
    model = nlp.get_pipe("transformer").model
    assert isinstance(model, TransformerModel)
    assert model.transformer is None and model.tokenizer is None  # nothing loaded yet, as in 1.4
    nlp.initialize()
    doc = nlp(CORPUS[0])
    assert isinstance(model.transformer, torch.nn.Module)
    assert model.tokenizer(CORPUS[0])["input_ids"] == doc._.trf_data.wordpieces.input_ids[0].tolist()
    # The usual recipe for taking the fine-tuned encoder out of a pipeline.
    model.transformer.save_pretrained(tmp_path / "hf")
    model.tokenizer.save_pretrained(tmp_path / "hf")
    reloaded = AutoModel.from_pretrained(tmp_path / "hf")
    ref = _forward(reloaded, AutoTokenizer.from_pretrained(tmp_path / "hf"), CORPUS[0])
    numpy.testing.assert_allclose(doc._.trf_data.tensors[0][0], ref, atol=1e-5)


def test_a_copy_keeps_the_class_and_has_weights_of_its_own(tiny_model):
    model = _nlp(tiny_model("roberta")).get_pipe("transformer").model
    copied = model.copy()
    assert isinstance(copied, TransformerModel) and copied.transformer is not model.transformer
    for a, b in zip(model.transformer.parameters(), copied.transformer.parameters()):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()


def test_set_transformer_takes_the_hf_objects_huggingface_from_pretrained_returns(tiny_model, minilm_path):
    nlp = _nlp(tiny_model("bert"))
    objects = huggingface_from_pretrained(tiny_model("roberta"), {"use_fast": True}, {})
    assert isinstance(objects, HFObjects) and objects.vocab_file_contents is None  # tokenizer.json only
    minilm = huggingface_from_pretrained(minilm_path, {}, {})
    assert minilm.vocab_file_contents == (minilm_path / "vocab.txt").read_bytes()
    model = nlp.get_pipe("transformer").model
    model.attrs["set_transformer"](model, objects)
    assert model.transformer is objects.transformer and model.tokenizer is objects.tokenizer
    doc = nlp(CORPUS[1])
    ref = _forward(objects.transformer, objects.tokenizer, CORPUS[1])
    numpy.testing.assert_allclose(doc._.trf_data.tensors[0][0], ref, atol=1e-5)


def test_from_batch_encoding_reads_huggingface_tokenize(tiny_model):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model("bert"))
    texts = [CORPUS[0], "Short one."]
    wordpieces = WordpieceBatch.from_batch_encoding(huggingface_tokenize(tokenizer, texts))
    expected = [tokenizer(t)["input_ids"] for t in texts]
    assert wordpieces.lengths == [len(e) for e in expected]
    assert wordpieces.input_ids[1, : len(expected[1])].tolist() == expected[1]
    assert wordpieces.attention_mask.dtype == numpy.float32 and wordpieces.attention_mask.sum() == sum(
        wordpieces.lengths
    )
    assert wordpieces.strings[1][: len(expected[1])] == tokenizer.convert_ids_to_tokens(expected[1])
    plain = tokenizer(texts, padding=True, return_tensors="np")  # a fast tokenizer knows its strings
    assert WordpieceBatch.from_batch_encoding(plain).strings == wordpieces.strings
    with pytest.raises(ValueError, match="wordpiece strings"):
        WordpieceBatch.from_batch_encoding(
            {"input_ids": plain["input_ids"], "attention_mask": plain["attention_mask"]}
        )


def test_span2wp_gives_each_token_the_wordpieces_of_its_characters(tiny_model):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model("bert"))
    doc = spacy.blank("en")("Tabs\tand  double spaces")
    offsets = tokenizer(doc.text, return_offsets_mapping=True)["offset_mapping"]
    per_token = get_span2wp_from_offset_mapping(doc[:], numpy.asarray(offsets))
    assert len(per_token) == len(doc)
    for token, pieces in zip(doc, per_token):
        if token.is_space:
            assert pieces == []  # whitespace owns no wordpiece (1.4's rule)
        else:
            assert pieces and "".join(doc.text[offsets[j][0] : offsets[j][1]] for j in pieces) == token.text


def test_verify_inputs_checks_the_batch_a_listener_holds():
    nlp = spacy.blank("en")
    docs, others = [nlp("one two")], [nlp("three")]
    listener = TransformerListener("transformer")
    with pytest.raises(ValueError, match="no outputs"):
        listener.verify_inputs(docs)
    listener.receive(listener.get_batch_id(docs), [], lambda d: None)
    assert listener.verify_inputs(docs) is True
    with pytest.raises(ValueError, match="Mismatched IDs"):
        listener.verify_inputs(others)


def test_set_logger_reports_each_forward_pass(tiny_model):
    nlp = _nlp(tiny_model("bert"))
    log = io.StringIO()
    set_logger(nlp.get_pipe("transformer").model, log)
    set_logger(nlp.get_pipe("transformer").model, log)  # a second call adds no second handler
    list(nlp.pipe([CORPUS[0], CORPUS[1]]))
    assert "predict batch: 2 rows, longest" in log.getvalue()
    assert log.getvalue().count("predict batch") == 1


def test_flush_cache_chance_draws_only_when_set(tiny_model):
    nlp = _nlp(tiny_model("bert"))
    random.seed(0)
    state = random.getstate()
    nlp(CORPUS[0])
    assert random.getstate() == state  # the default 0.0 leaves training's random stream alone
    nlp.get_pipe("transformer").model.attrs["flush_cache_chance"] = 1.0
    nlp(CORPUS[0])  # a no-op without a GPU, but asked for
    assert random.getstate() != state
