"""Training with a frozen transformer, and with sentence spans set by a sentencizer.

A frozen transformer that was not sourced from a trained pipeline loads its pretrained
weights in ``initialize`` (no training data needed), serves its listeners when it
annotates, and comes out of training bit-identical. A sentencizer before the transformer
runs on every training batch, so ``sent_spans`` and the guide's custom sentence span
getter see sentences in training as they do at prediction time.
"""

from __future__ import annotations

import numpy
import pytest
import spacy
from transformers import AutoModel

from tests.conftest import run_cli
from tests.core.training.data import SNIPPETS, overrides_args
from tests.core.transformer.conftest import tiny_model  # noqa: F401  (fixture)


@pytest.fixture
def trf_config(tiny_model, tmp_path):  # noqa: F811
    config = tmp_path / "config.cfg"
    assert (
        run_cli(
            "init", "config", str(config), "--pipeline", "tagger", "--transformer", str(tiny_model("bert"))
        ).exit_code
        == 0
    )
    return config


def _args(corpora, **extra) -> list:
    return overrides_args(
        {
            "paths.train": str(corpora.tiny_train),
            "paths.dev": str(corpora.tiny_dev),
            "training.eval_frequency": 2,
            "training.max_steps": 3,
            **extra,
        }
    )


def _encoder_weights(model) -> dict:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def test_a_frozen_annotating_transformer_loads_its_weights_and_stays_bit_identical(
    trf_config, tiny_model, training_corpora, tmp_path
):  # noqa: F811
    out = tmp_path / "out"
    result = run_cli(
        "train",
        str(trf_config),
        "-o",
        str(out),
        *_args(
            training_corpora,
            **{
                "training.frozen_components": ["transformer"],
                "training.annotating_components": ["transformer"],
            },
        ),
    )
    assert result.exit_code == 0, result.output
    assert "Frozen components: ['transformer']" in result.output
    from spacy_transfer.core.transformer import get_hf_model

    nlp = spacy.load(out / "model-last")
    trained = _encoder_weights(get_hf_model(nlp.get_pipe("transformer")))
    original = _encoder_weights(AutoModel.from_pretrained(tiny_model("bert")))
    assert trained.keys() == original.keys()
    for key in original:
        assert numpy.array_equal(trained[key], original[key]), key
    # the tagger trained on top of it, and the pipeline predicts
    doc = nlp("The quick brown fox jumps over the lazy dog.")
    assert doc._.trf_data is not None and all(t.tag_ for t in doc)


def test_a_frozen_transformer_that_does_not_annotate_is_a_clear_error(trf_config, training_corpora, tmp_path):
    result = run_cli(
        "train",
        str(trf_config),
        "-o",
        str(tmp_path / "out"),
        *_args(training_corpora, **{"training.frozen_components": ["transformer"]}),
    )
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "annotating_components" in text and "tagger" in text and "Traceback" not in text
    assert "no width" not in text  # the old, misleading message


def _with_sentencizer(config_path, tmp_path, span_getter: dict):
    from thinc.api import Config

    config = Config().from_disk(config_path, interpolate=False)
    config["nlp"]["pipeline"] = ["sentencizer", *config["nlp"]["pipeline"]]
    config["components"]["sentencizer"] = {"factory": "sentencizer"}
    config["components"]["transformer"]["model"]["get_spans"] = span_getter
    path = tmp_path / "sents.cfg"
    config.to_disk(path)
    return path


def test_sent_spans_with_a_sentencizer_before_the_transformer_train(trf_config, training_corpora, tmp_path):
    config = _with_sentencizer(trf_config, tmp_path, {"@span_getters": "spacy-transformers.sent_spans.v1"})
    result = run_cli("train", str(config), "-o", str(tmp_path / "out"), *_args(training_corpora))
    assert result.exit_code == 0, result.output
    assert "['sentencizer'] run on each training batch" in " ".join(result.output.split())
    nlp = spacy.load(tmp_path / "out" / "model-last")
    doc = nlp("This is one sentence. This is another one.")
    assert len(doc._.trf_data.tensors[0]) == 2  # one row of wordpieces per sentence


def test_the_guides_custom_sentence_span_getter_trains(trf_config, training_corpora, tmp_path):
    config = _with_sentencizer(trf_config, tmp_path, {"@span_getters": "custom_sent_spans", "max_length": 25})
    result = run_cli(
        "train",
        str(config),
        "-o",
        str(tmp_path / "out"),
        "--code",
        str(SNIPPETS / "custom_sent_spans.py"),
        *_args(training_corpora),
    )
    assert result.exit_code == 0, result.output


def test_sent_spans_without_any_sentence_setter_says_what_fixes_it(trf_config, training_corpora, tmp_path):
    from thinc.api import Config

    config = Config().from_disk(trf_config, interpolate=False)
    config["components"]["transformer"]["model"]["get_spans"] = {
        "@span_getters": "spacy-transformers.sent_spans.v1"
    }
    path = tmp_path / "nosents.cfg"
    config.to_disk(path)
    # the tiny corpus's gold sentences are not the predicted Docs' sentences
    result = run_cli("train", str(path), "-o", str(tmp_path / "out"), *_args(training_corpora))
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "sentencizer" in text and "annotating_components" in text and "Traceback" not in text
