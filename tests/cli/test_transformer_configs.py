"""`init config --transformer <local dir>` and `init fill-config` on the spec's transformer
snippets: configs resolve without loading weights, then train with the local model."""

from __future__ import annotations

from pathlib import Path

import pytest
from spacy import util
from spacy.training import Example
from thinc.api import Adam

from ..conftest import run_cli, run_cli_subprocess
from ..core.transformer.conftest import make_tiny_model_dir

SNIPPETS = Path(__file__).parents[1] / "snippets"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("models"), "roberta")


@pytest.mark.parametrize("embedding", ["shared", "independent"])
def test_init_config_with_a_local_transformer_trains(tmp_path, model_dir, embedding):
    out = tmp_path / "config.cfg"
    result = run_cli(
        "init",
        "config",
        str(out),
        "--pipeline",
        "tagger,ner",
        "--transformer",
        str(model_dir),
        "--embedding",
        embedding,
    )
    assert result.exit_code == 0, result.output
    config = util.load_config(out)
    assert str(model_dir) in out.read_text()
    nlp = util.load_model_from_config(config, auto_fill=True, validate=True)
    words = ["Sara", "flew", "to", "Paris", "."]
    exs = [
        Example.from_dict(
            nlp.make_doc(" ".join(words)),
            {"tags": ["N", "V", "P", "N", "."], "entities": ["U-PER", "O", "O", "U-LOC", "O"]},
        )
    ]
    nlp.initialize(lambda: exs)
    opt = Adam(0.01)
    history = [nlp.update(exs, sgd=opt, losses={}) for _ in range(5)]
    assert history[-1]["tagger"] < history[0]["tagger"]


@pytest.mark.parametrize("name", ["transformer_component", "transformer_listener"])
def test_fill_config_on_transformer_snippets_needs_no_weights(tmp_path, name):
    # "bert-base-cased" is never downloaded: filling only resolves names.
    out = tmp_path / "filled.cfg"
    result = run_cli("init", "fill-config", str(SNIPPETS / f"{name}.cfg"), str(out))
    assert result.exit_code == 0, result.output
    filled = util.load_config(out)
    assert filled["components"]["transformer"]["model"]["name"] == "bert-base-cased"
    assert (
        filled["components"]["transformer"]["model"]["@architectures"]
        == "spacy-transformers.TransformerModel.v1"
    )


def test_fill_config_on_custom_span_getter_snippet_with_code(tmp_path):
    out = tmp_path / "filled.cfg"
    args = [
        "init",
        "fill-config",
        str(SNIPPETS / "custom_sent_spans.cfg"),
        str(out),
        "--code",
        str(SNIPPETS / "custom_sent_spans.py"),
    ]
    result = run_cli_subprocess(args, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "custom_sent_spans" in out.read_text()


def test_bad_strided_spans_settings_are_a_clean_error(tmp_path):
    cfg = tmp_path / "bad.cfg"
    text = (
        (SNIPPETS / "transformer_component.cfg")
        .read_text()
        .replace(
            '@span_getters = "spacy-transformers.doc_spans.v1"',
            '@span_getters = "spacy-transfer.strided_spans.v1"\nwindow = 8\nstride = 16',
        )
    )
    cfg.write_text(text)
    result = run_cli("init", "fill-config", str(cfg), str(tmp_path / "out.cfg"))
    assert result.exit_code == 1
    assert "stride" in result.output
    assert not (tmp_path / "out.cfg").exists()
