"""`spacy-transfer train` refuses bad input clearly (exit 1) and leaves existing outputs alone."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.core.training.data import TINY_SHARED, filled_snippet, overrides_args


def snapshot(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    return filled_snippet("shared.cfg", tmp_path_factory.mktemp("cfg") / "config.cfg")


@pytest.fixture(scope="module")
def previous_run(tmp_path_factory, config, training_corpora) -> Path:
    out = tmp_path_factory.mktemp("previous") / "out"
    result = run_cli("train", str(config), "-o", str(out), *args_for(training_corpora))
    assert result.exit_code == 0, result.output
    return out


def args_for(corpora, **extra) -> list:
    overrides = {
        **TINY_SHARED,
        "paths.train": str(corpora.uner_train),
        "paths.dev": str(corpora.uner_dev),
        "training.max_steps": 4,
        "training.eval_frequency": 2,
        **extra,
    }
    return overrides_args(overrides)


@pytest.fixture
def output(previous_run, tmp_path) -> Path:
    """A copy of a finished run's folder: errors must leave it exactly as it was."""
    out = tmp_path / "out"
    shutil.copytree(previous_run, out)
    return out


def fails(config: Path, out: Path, *args: str) -> str:
    before = snapshot(out) if out.exists() else None
    result = run_cli("train", str(config), "-o", str(out), *args)
    assert result.exit_code == 1, result.output
    assert "✘" in result.output and "Traceback" not in result.output
    assert (snapshot(out) if out.exists() else None) == before, "the output folder changed"
    return " ".join(result.output.split())


def test_a_corpus_path_that_does_not_exist(config, output, training_corpora):
    text = fails(config, output, *args_for(training_corpora, **{"paths.train": "/nonexistent/train.spacy"}))
    assert (
        "[corpora.train] path" in text
        and "/nonexistent/train.spacy does not exist" in text
        and "--paths.train" in text
    )


def test_an_unset_corpus_path(config, output, training_corpora):
    text = fails(
        config, output, *overrides_args({**TINY_SHARED, "paths.dev": str(training_corpora.uner_dev)})
    )
    assert "[corpora.train] path" in text and "is not set" in text


def test_an_empty_corpus(config, output, training_corpora):
    text = fails(config, output, *args_for(training_corpora, **{"paths.train": str(training_corpora.empty)}))
    assert "no documents" in text or "no examples" in text
    text = fails(config, output, *args_for(training_corpora, **{"paths.dev": str(training_corpora.empty)}))
    assert "dev" in text and "no documents" in text


def test_a_component_without_annotations_in_the_data(config, output, training_corpora):
    # NER on UD data: UD has no entities.
    text = fails(
        config, output, *args_for(training_corpora, **{"paths.train": str(training_corpora.ud_train)})
    )
    assert "ner" in text and "no ENT_IOB annotation" in text


def test_labels_the_data_does_not_have(config, output, training_corpora, tmp_path):
    labels = tmp_path / "ner_labels.json"
    # The NER's label data as 'spacy init labels' writes it: label counts per action.
    counts = {"PER": 1, "ORG": 1, "LOC": 1, "ANIMAL": 1}
    labels.write_text(
        json.dumps({"0": {}, "1": counts, "2": counts, "3": counts, "4": {**counts, "": 1}, "5": {"": 1}})
    )
    # Labels from a file, as spaCy's docs show for [initialize.components.NAME.labels].
    with_labels = tmp_path / "config.cfg"
    with_labels.write_text(
        config.read_text()
        + f'''
[initialize.components.ner]

[initialize.components.ner.labels]
@readers = "spacy.read_labels.v1"
path = "{labels}"
'''
    )
    text = fails(with_labels, output, *args_for(training_corpora))
    assert "labels not in the training data: ANIMAL" in text


def test_a_frozen_component_with_listeners_needs_annotating_components(config, output, training_corpora):
    text = fails(config, output, *args_for(training_corpora), "--training.frozen_components", '["tok2vec"]')
    assert "tok2vec" in text and "ner listen" in text and "annotating_components" in text


def test_resume_without_a_checkpoint(config, training_corpora, tmp_path):
    out = tmp_path / "never_trained"
    text = fails(config, out, *args_for(training_corpora), "--resume")
    assert "No checkpoint to resume from" in text
    assert not out.exists()


def test_resume_with_a_config_that_changed(config, output, training_corpora):
    text = fails(config, output, *args_for(training_corpora, **{"training.dropout": 0.3}), "--resume")
    assert (
        "no longer matches the checkpoint" in text
        and "training.dropout" in text
        and "0.1" in text
        and "0.3" in text
    )


def test_resume_may_move_the_finish_line(config, output, training_corpora):
    result = run_cli(
        "train",
        str(config),
        "-o",
        str(output),
        *args_for(training_corpora, **{"training.max_steps": 6}),
        "--resume",
    )
    assert result.exit_code == 0, result.output
    state = json.loads((output / "checkpoint" / "state.json").read_text())["state"]
    assert state["step"] == 6 and [r[1] for r in state["results"]] == [0, 2, 4, 6]


def test_a_gpu_that_is_not_there(config, output, training_corpora):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is available here")
    text = fails(config, output, *args_for(training_corpora), "--gpu-id", "0")
    assert "GPU 0 was asked for" in text and "--gpu-id" in text


def test_a_tagger_on_data_without_tags(training_corpora, tmp_path):
    config = tmp_path / "config.cfg"
    assert run_cli("init", "config", str(config), "--pipeline", "tagger").exit_code == 0
    text = fails(
        config,
        tmp_path / "out",
        *overrides_args(
            {"paths.train": str(training_corpora.uner_train), "paths.dev": str(training_corpora.uner_dev)}
        ),
    )
    assert "tagger" in text and "no labels were found in the training data" in text


def _sourced_tagger_config(tmp_path: Path, labels: list) -> Path:
    """A config whose tagger is copied from a saved pipeline that knows only ``labels``."""
    import spacy
    from spacy.training import Example

    nlp = spacy.blank("en")
    nlp.add_pipe("tagger")
    doc = nlp.make_doc(" ".join(["word"] * len(labels)))
    nlp.initialize(lambda: [Example.from_dict(doc, {"tags": labels})])
    nlp.to_disk(tmp_path / "trained")
    config = tmp_path / "config.cfg"
    assert (
        run_cli("init", "config", str(config), "--pipeline", "tagger", "--embedding", "independent").exit_code
        == 0
    )
    from thinc.api import Config

    cfg = Config().from_disk(config, interpolate=False)
    cfg["components"]["tagger"] = {"source": str(tmp_path / "trained")}
    cfg.to_disk(config)
    return config


def test_a_sourced_tagger_and_tags_it_does_not_have(training_corpora, tmp_path):
    config = _sourced_tagger_config(tmp_path, ["NN", "VB", "DT"])
    data = {"paths.train": str(training_corpora.ud_train), "paths.dev": str(training_corpora.ud_dev)}
    text = fails(config, tmp_path / "out", *overrides_args({**data, "training.max_steps": 2}))
    assert "tagger" in text and "labels it does not have: " in text and "more)" in text  # EWT has ~50 tags
    assert "frozen_components" in text and "Traceback" not in text
    # Frozen, it is kept as it is and the run goes on.
    frozen = run_cli(
        "train",
        str(config),
        "-o",
        str(tmp_path / "out"),
        *overrides_args({**data, "training.max_steps": 2, "training.frozen_components": ["tagger"]}),
    )
    assert frozen.exit_code == 0, frozen.output
