"""`init config`'s generator: complete configs spaCy itself accepts."""

import pytest
from spacy import util

from spacy_transfer.core.config import ConfigRequest
from spacy_transfer.core.config.generate import build_config_text, generate_config
from spacy_transfer.errors import UserError


def nlp_from(text: str):
    config = util.load_config_from_str(text)
    return util.load_model_from_config(config, auto_fill=False, validate=True)


@pytest.mark.parametrize("optimize", ["efficiency", "accuracy"])
@pytest.mark.parametrize("embedding", ["shared", "independent"])
def test_cnn_configs_are_complete(optimize, embedding):
    req = ConfigRequest(
        pipeline=["tagger", "parser", "ner", "textcat"], optimize=optimize, embedding=embedding
    )
    text = generate_config(req)
    nlp = nlp_from(text)  # auto_fill=False: nothing may be missing
    expected = ["tagger", "parser", "ner", "textcat"]
    if embedding == "shared":
        expected = ["tok2vec"] + expected
        assert "spacy.Tok2VecListener.v1" in text
    else:
        assert "spacy.Tok2VecListener.v1" not in text
    assert nlp.pipe_names == expected


def test_every_component_is_supported():
    req = ConfigRequest(
        pipeline=[
            "tagger",
            "morphologizer",
            "trainable_lemmatizer",
            "parser",
            "ner",
            "spancat",
            "textcat_multilabel",
            "senter",
        ]
    )
    nlp = nlp_from(generate_config(req))
    assert nlp.pipe_names[0] == "tok2vec"


def test_vectors_turn_on_static_vector_features():
    text = build_config_text(ConfigRequest(pipeline=["ner"], vectors="./my_vectors"))
    assert "include_static_vectors = true" in text
    assert 'vectors = "./my_vectors"' in text


def test_pretraining_block_is_added():
    text = generate_config(ConfigRequest(pipeline=["tagger"]), pretraining=True)
    config = util.load_config_from_str(text, interpolate=False)
    assert config["pretraining"]["objective"]["@architectures"] == "spacy.PretrainCharacters.v1"
    assert config["pretraining"]["component"] == "tok2vec"


@pytest.mark.parametrize(
    "req",
    [
        ConfigRequest(pipeline=["tagger", "nerr"]),
        ConfigRequest(pipeline=[]),
        ConfigRequest(optimize="fast"),
        ConfigRequest(embedding="both"),
        ConfigRequest(pipeline=["ner", "ner"]),
    ],
)
def test_bad_requests_say_what_to_choose(req):
    with pytest.raises(UserError) as e:
        build_config_text(req)
    assert e.value.hint
