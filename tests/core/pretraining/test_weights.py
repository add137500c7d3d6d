"""``[initialize] init_tok2vec``: the pretrained weights are really loaded, and checked."""

from __future__ import annotations

import numpy
import pytest
import srsly
from spacy.training.initialize import init_nlp

from spacy_transfer.core.corpora import read_conllu, write_docbin
from spacy_transfer.core.pretraining import pretrain
from spacy_transfer.core.training.initialize import init_nlp_with_init_tok2vec
from spacy_transfer.errors import UserError

from ...conftest import DATA
from .conftest import tiny_config


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, raw_jsonl):
    out = tmp_path_factory.mktemp("pretrained")
    pretrain(tiny_config(raw_jsonl, {"pretraining.max_epochs": 1}), out)
    return out / "model-last.bin"


@pytest.fixture(scope="module")
def ud_slice(tmp_path_factory):
    path = tmp_path_factory.mktemp("ud") / "train.spacy"
    write_docbin(read_conllu(DATA / "ud_english-ewt" / "en_ewt-ud-dev.conllu", n_sents=5, limit=40), path)
    return path


def _train_config(weights, ud_slice, **overrides):
    values = {
        "paths.init_tok2vec": str(weights) if weights else None,
        "paths.train": str(ud_slice),
        "paths.dev": str(ud_slice),
    }
    values.update(overrides)
    return tiny_config(None, values)


def _params(model_bytes: bytes):
    msg = srsly.msgpack_loads(model_bytes)
    return [(k, numpy.asarray(v)) for node in msg["params"] for k, v in sorted(node.items()) if v is not None]


def _assert_layer_equals_file(layer, path):
    loaded, saved = _params(layer.to_bytes()), _params(path.read_bytes())
    assert len(loaded) == len(saved) > 0
    for (k1, a), (k2, b) in zip(loaded, saved):
        assert k1 == k2 and numpy.array_equal(a, b), k1


def test_loaded_weights_equal_the_file(pretrained, ud_slice):
    nlp = init_nlp_with_init_tok2vec(_train_config(pretrained, ud_slice))
    _assert_layer_equals_file(nlp.get_pipe("tok2vec").model, pretrained)
    # The pipeline's config still says where the weights came from.
    assert nlp.config["initialize"]["init_tok2vec"] == "${paths.init_tok2vec}"


def test_loaded_without_a_pretraining_block(pretrained, ud_slice):
    """spaCy ignores init_tok2vec when the config has no [pretraining] block; we load it."""
    config = _train_config(pretrained, ud_slice)
    del config["pretraining"]
    spacy_nlp = init_nlp(config)
    with pytest.raises(AssertionError):
        _assert_layer_equals_file(spacy_nlp.get_pipe("tok2vec").model, pretrained)
    nlp = init_nlp_with_init_tok2vec(config)
    _assert_layer_equals_file(nlp.get_pipe("tok2vec").model, pretrained)


def test_weights_of_another_shape_fail_loudly(pretrained, ud_slice):
    config = _train_config(
        pretrained,
        ud_slice,
        **{
            "components.tok2vec.model.encode.width": 48,
            "components.tok2vec.model.embed.width": 48,
            "components.tagger.model.tok2vec.width": 48,
        },
    )
    with pytest.raises(UserError) as e:
        init_nlp_with_init_tok2vec(config)
    assert "do not fit" in e.value.message
    assert any("32 in the file, 48 here" in problem for _, problem in e.value.rows)


def test_missing_weights_file(tmp_path, ud_slice):
    with pytest.raises(UserError, match="not found"):
        init_nlp_with_init_tok2vec(_train_config(tmp_path / "nope.bin", ud_slice))


def test_not_a_weights_file(tmp_path, ud_slice):
    bogus = tmp_path / "model0.bin"
    bogus.write_text("hello")
    with pytest.raises(UserError, match="not a pretrained weights file"):
        init_nlp_with_init_tok2vec(_train_config(bogus, ud_slice))
