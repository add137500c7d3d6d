"""`spacy-transfer evaluate`: spaCy's scores for a trained pipeline, as tables and JSON."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.core.training.data import overrides_args


@pytest.fixture(scope="module")
def trained(tmp_path_factory, training_corpora):
    tmp = tmp_path_factory.mktemp("evaluate")
    config = tmp / "config.cfg"
    assert run_cli("init", "config", str(config), "--pipeline", "tagger,parser,ner").exit_code == 0
    result = run_cli(
        "train",
        str(config),
        "-o",
        str(tmp / "out"),
        *overrides_args(
            {
                "paths.train": str(training_corpora.mixed_train),
                "paths.dev": str(training_corpora.mixed_dev),
                "training.max_steps": 4,
                "training.eval_frequency": 2,
                "components.tok2vec.model.encode.width": 32,
                "components.tok2vec.model.encode.depth": 1,
            }
        ),
    )
    assert result.exit_code == 0, result.output
    return tmp / "out" / "model-best"


def test_prints_spacy_style_tables(trained, training_corpora):
    result = run_cli("evaluate", str(trained), str(training_corpora.mixed_dev))
    assert result.exit_code == 0, result.output
    text = result.output
    for metric in (
        "Results",
        "TOK",
        "TAG",
        "UAS",
        "LAS",
        "NER P",
        "NER R",
        "NER F",
        "SPEED",
        "LAS (per type)",
    ):
        assert metric in text, metric


def test_writes_json_scores(trained, training_corpora, tmp_path):
    out = tmp_path / "scores.json"
    result = run_cli("evaluate", str(trained), str(training_corpora.mixed_dev), "--output", str(out))
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert {"token_acc", "tag_acc", "dep_uas", "dep_las", "ents_f", "speed", "dep_las_per_type"} <= set(
        scores
    )
    assert 0.0 <= scores["tag_acc"] <= 1.0
    printed = run_cli("evaluate", str(trained), str(training_corpora.mixed_dev), "--output", "-")
    assert json.loads(printed.stdout)["tag_acc"] == scores["tag_acc"]


def test_per_component_scores(trained, training_corpora, tmp_path):
    out = tmp_path / "scores.json"
    result = run_cli(
        "evaluate", str(trained), str(training_corpora.mixed_dev), "--per-component", "--output", str(out)
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert {"tagger", "parser", "ner"} <= set(scores)
    assert "tag_acc" in scores["tagger"] and "dep_las" in scores["parser"] and "ents_f" in scores["ner"]
    assert "Results: tagger" in result.output and "Results: ner" in result.output


@pytest.mark.parametrize("which", ["model", "data", "empty"])
def test_missing_inputs_are_clear_errors(which, trained, training_corpora, tmp_path):
    model = str(tmp_path / "nope") if which == "model" else str(trained)
    data = {"data": str(tmp_path / "nope.spacy"), "empty": str(training_corpora.empty)}.get(
        which, str(training_corpora.mixed_dev)
    )
    result = run_cli("evaluate", model, data, "--output", str(tmp_path / "scores.json"))
    assert result.exit_code == 1 and "✘" in result.output
    assert {"model": "Pipeline not found", "data": "Evaluation data not found", "empty": "has no documents"}[
        which
    ] in result.output
    assert not (tmp_path / "scores.json").exists()
