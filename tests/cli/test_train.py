"""`spacy-transfer train`: the spec's setups and an `init config` pipeline train end to
end on UD English-EWT / UNER slices, with spaCy's semantics and our outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy
import pytest
import spacy

from tests.conftest import run_cli
from tests.core.training.data import TINY_INDEPENDENT, TINY_SHARED, filled_snippet, overrides_args

TINY_INIT_CONFIG = {
    "components.tok2vec.model.encode.width": 32,
    "components.tok2vec.model.encode.depth": 1,
    "components.tok2vec.model.embed.rows": [500, 100, 250, 250],
    "components.parser.model.hidden_width": 16,
    "components.ner.model.hidden_width": 16,
}


def data_args(train: Path, dev: Path, steps: int = 12, every: int = 6) -> list:
    return overrides_args(
        {
            "paths.train": str(train),
            "paths.dev": str(dev),
            "training.max_steps": steps,
            "training.eval_frequency": every,
        }
    )


def params(nlp) -> dict:
    return {
        f"{name}/{i}/{p}": numpy.asarray(node.get_param(p))
        for name, proc in nlp.pipeline
        for i, node in enumerate(proc.model.walk())
        for p in node.param_names
        if node.has_param(p)
    }


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory, training_corpora):
    tmp = tmp_path_factory.mktemp("shared")
    config = filled_snippet("shared.cfg", tmp / "config.cfg")
    out = tmp / "out"
    result = run_cli(
        "train",
        str(config),
        "--output",
        str(out),
        *overrides_args(TINY_SHARED),
        *data_args(training_corpora.uner_train, training_corpora.uner_dev),
    )
    assert result.exit_code == 0, result.output
    return config, out, result.output


def test_shared_setup_trains_and_writes_every_output(shared_run):
    _, out, output = shared_run
    for name in ("model-best", "model-last", "checkpoint", "metrics.jsonl", "training.png", "config.cfg"):
        assert (out / name).exists(), name
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temp files left behind"
    nlp = spacy.load(out / "model-best")
    assert nlp.pipe_names == ["tok2vec", "ner"]
    assert {"ents_f", "ents_p", "ents_r", "ner_loss", "tok2vec_loss"} <= set(nlp.meta["performance"])
    assert spacy.load(out / "model-last")("Alice flew to Paris.").text == "Alice flew to Paris."
    assert (out / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_table_and_metrics_show_each_evaluation(shared_run):
    _, out, output = shared_run
    header = next(line for line in output.splitlines() if "LOSS NER" in line)
    assert header.split() == [
        "E",
        "#",
        "LOSS",
        "TOK2VEC",
        "LOSS",
        "NER",
        "ENTS_F",
        "ENTS_P",
        "ENTS_R",
        "SCORE",
    ]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 6, 12]  # step 0, then every eval_frequency steps
    assert set(rows[-1]) >= {"step", "epoch", "losses", "scores", "score", "words_per_second", "elapsed_s"}
    assert set(rows[-1]["losses"]) == {"tok2vec", "ner"} and rows[-1]["words_per_second"] > 0
    assert "Best score" in output and "model-best" in output


def test_our_loop_reproduces_spacy_train_exactly(shared_run, training_corpora, tmp_path):
    """Same config, same seed: spaCy's own loop ends with bitwise the same weights."""
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train as spacy_train

    from spacy_transfer.core.config import load_training_config

    config_path, out, _output = shared_run
    overrides = {
        **TINY_SHARED,
        "paths.train": str(training_corpora.uner_train),
        "paths.dev": str(training_corpora.uner_dev),
        "training.max_steps": 12,
        "training.eval_frequency": 6,
    }
    config = load_training_config(config_path, overrides)
    nlp = init_nlp(config)
    (tmp_path / "spacy").mkdir()
    with open(tmp_path / "log.txt", "w") as log:
        spacy_train(nlp, tmp_path / "spacy", stdout=log, stderr=log)
    ours, theirs = (
        params(spacy.load(out / "model-last")),
        params(spacy.load(tmp_path / "spacy" / "model-last")),
    )
    assert ours.keys() == theirs.keys()
    assert all(numpy.array_equal(ours[k], theirs[k]) for k in ours)


def test_independent_setup_trains(training_corpora, tmp_path):
    config = filled_snippet("independent.cfg", tmp_path / "config.cfg")
    result = run_cli(
        "train",
        str(config),
        "--output",
        str(tmp_path / "out"),
        *overrides_args(TINY_INDEPENDENT),
        *data_args(training_corpora.uner_train, training_corpora.uner_dev, steps=6, every=3),
    )
    assert result.exit_code == 0, result.output
    assert spacy.load(tmp_path / "out" / "model-best").pipe_names == ["ner"]


def test_init_config_tagger_parser_ner_trains_on_ud_and_uner(training_corpora, tmp_path):
    config = tmp_path / "config.cfg"
    assert run_cli("init", "config", str(config), "--pipeline", "tagger,parser,ner").exit_code == 0
    result = run_cli(
        "train",
        str(config),
        "--output",
        str(tmp_path / "out"),
        *overrides_args(TINY_INIT_CONFIG),
        *data_args(training_corpora.mixed_train, training_corpora.mixed_dev, steps=10, every=5),
    )
    assert result.exit_code == 0, result.output
    nlp = spacy.load(tmp_path / "out" / "model-best")
    assert nlp.pipe_names == ["tok2vec", "tagger", "parser", "ner"]
    perf = nlp.meta["performance"]
    assert {"tag_acc", "dep_uas", "dep_las", "ents_f"} <= set(perf)
    assert perf["tag_acc"] > 0.1  # learnt something from the UD tags in 10 steps
    assert {"PER", "ORG", "LOC"} >= set(nlp.get_pipe("ner").labels) and nlp.get_pipe("ner").labels
    header = next(line for line in result.output.splitlines() if "LOSS TAGGER" in line)
    assert "LOSS PARSER" in header and "DEP_LAS" in header and "ENTS_F" in header


def test_config_from_stdin_with_code_and_no_output(training_corpora, shared_run):
    config_path, _, _ = shared_run
    code = Path(__file__).parents[1] / "core" / "training" / "callbacks.py"
    result = run_cli(
        "train",
        "-",
        "--code",
        str(code),
        *overrides_args(TINY_SHARED),
        *data_args(training_corpora.uner_train, training_corpora.uner_dev, steps=2, every=2),
        input=config_path.read_text(),
    )
    assert result.exit_code == 0, result.output
    assert "nothing will be saved" in result.output


def test_max_epochs_stops_after_one_pass_and_streaming_works(training_corpora, shared_run, tmp_path):
    config_path, _, _ = shared_run
    base = [
        *overrides_args(TINY_SHARED),
        *overrides_args(
            {
                "paths.train": str(training_corpora.uner_train),
                "paths.dev": str(training_corpora.uner_dev),
                "training.eval_frequency": 1000,
                "training.max_steps": 0,
            }
        ),
    ]
    one_epoch = run_cli(
        "train", str(config_path), "-o", str(tmp_path / "a"), *base, "--training.max_epochs", "1"
    )
    assert one_epoch.exit_code == 0, one_epoch.output
    rows = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    state = json.loads((tmp_path / "a" / "checkpoint" / "state.json").read_text())["state"]
    assert state["epoch"] == 0 and state["finished"] and rows[0]["step"] == 0
    assert state["words"] == sum(
        len(d)
        for d in spacy.tokens.DocBin()
        .from_disk(training_corpora.uner_train)
        .get_docs(spacy.blank("en").vocab)
    )
    stream = run_cli(
        "train",
        str(config_path),
        "-o",
        str(tmp_path / "b"),
        *base,
        "--training.max_epochs",
        "-1",
        "--training.max_steps",
        "4",
    )
    assert stream.exit_code == 0, stream.output
    assert json.loads((tmp_path / "b" / "checkpoint" / "state.json").read_text())["state"]["step"] == 4


def test_patience_stops_training(training_corpora, shared_run, tmp_path):
    config_path, _, _ = shared_run
    result = run_cli(
        "train",
        str(config_path),
        "-o",
        str(tmp_path / "out"),
        *overrides_args(TINY_SHARED),
        *data_args(training_corpora.uner_train, training_corpora.uner_dev, steps=100, every=2),
        "--training.patience",
        "4",
        "--training.score_weights",
        '{"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0}',
    )
    assert result.exit_code == 0, result.output
    state = json.loads((tmp_path / "out" / "checkpoint" / "state.json").read_text())["state"]
    best_step = max((s, -st) for s, st in state["results"])[1] * -1
    assert state["step"] - best_step >= 4 and state["step"] < 100
