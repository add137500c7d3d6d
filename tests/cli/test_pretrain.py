"""`spacy-transfer pretrain`: the command end to end, its errors, and `train` starting from its weights."""

from __future__ import annotations

import json

import numpy
import pytest
import spacy
import srsly

from spacy_transfer.core.corpora import read_conllu, write_docbin

from ..conftest import DATA, run_cli
from ..core.pretraining.conftest import TINY_CONFIG, wikitext_paragraphs


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain_cli")
    (root / "config.cfg").write_text(TINY_CONFIG, encoding="utf8")
    # Training that leaves the weights as they start: zero learning rate, no averaging.
    frozen = '\n[training.optimizer]\n@optimizers = "Adam.v1"\nlearn_rate = 0.0\nuse_averages = false\n'
    (root / "train.cfg").write_text(TINY_CONFIG + frozen, encoding="utf8")
    vectors_objective = (
        '@architectures = "spacy.PretrainVectors.v1"\nmaxout_pieces = 2\nhidden_size = 32\nloss = "cosine"\n'
    )
    start = TINY_CONFIG.index("[pretraining.objective]")
    end = TINY_CONFIG.index("[pretraining.optimizer]")
    (root / "vectors.cfg").write_text(
        TINY_CONFIG[:start] + "[pretraining.objective]\n" + vectors_objective + "\n" + TINY_CONFIG[end:]
    )
    (root / "text.jsonl").write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in wikitext_paragraphs(40)), encoding="utf8"
    )
    write_docbin(
        read_conllu(DATA / "ud_english-ewt" / "en_ewt-ud-dev.conllu", n_sents=5, limit=40), root / "ud.spacy"
    )
    return root


def test_pretrain_writes_weights_table_and_config(files, tmp_path):
    out = tmp_path / "out"
    result = run_cli(
        "pretrain",
        str(files / "config.cfg"),
        str(out),
        "--paths.raw_text",
        str(files / "text.jsonl"),
        "--pretraining.max_epochs",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert "Pre-training tok2vec layer - starting at epoch 0" in result.output
    assert "# Words" in result.output and "words/s" in result.output
    # model0 and model-last are the same weights: they share one resume state
    assert {p.name for p in out.iterdir()} == {
        "model0.bin",
        "model-last.bin",
        "model-last.state.safetensors",
        "log.jsonl",
        "config.cfg",
    }
    assert spacy.util.load_config(out / "config.cfg")["pretraining"]["max_epochs"] == 1


def test_resume_and_skip_last(files, tmp_path):
    out = tmp_path / "out"
    args = ["pretrain", str(files / "config.cfg"), str(out), "--paths.raw_text", str(files / "text.jsonl")]
    assert run_cli(*args, "--pretraining.max_epochs", "1", "--skip-last").exit_code == 0
    assert not (out / "model-last.bin").exists()
    result = run_cli(*args, "--pretraining.max_epochs", "2", "--resume-path", str(out / "model0.bin"))
    assert result.exit_code == 0, result.output
    assert "Resuming exactly from model0.bin: epoch 1" in result.output
    assert [row["epoch"] for row in srsly.read_jsonl(out / "log.jsonl")] == [0, 1, 2]


@pytest.mark.parametrize(
    "override, message",
    [
        (["--pretraining.component", "ner"], "not in the pipeline"),
        (["--pretraining.layer", "nope"], "has no layer 'nope'"),
        (["--paths.raw_text", "missing.jsonl"], "Raw text not found"),
        (
            ["--pretraining.objective.@architectures", "spacy.PretrainCharacter.v1"],
            "did you mean 'spacy.PretrainCharacters.v1'",
        ),
    ],
)
def test_errors_exit_1_with_a_message(files, tmp_path, override, message):
    args = [
        "pretrain",
        str(files / "config.cfg"),
        str(tmp_path / "out"),
        "--paths.raw_text",
        str(files / "text.jsonl"),
        *override,
    ]
    result = run_cli(*args)
    assert result.exit_code == 1, result.output
    assert "✘" in result.output and message in result.output
    assert "Traceback" not in result.output


def test_vectors_objective_without_vectors_exits_1(files, tmp_path):
    result = run_cli(
        "pretrain",
        str(files / "vectors.cfg"),
        str(tmp_path / "out"),
        "--paths.raw_text",
        str(files / "text.jsonl"),
    )
    assert result.exit_code == 1, result.output
    assert "needs word vectors" in result.output and "Traceback" not in result.output


def test_train_starts_from_the_pretrained_weights(files, tmp_path):
    pre = tmp_path / "pre"
    assert (
        run_cli(
            "pretrain",
            str(files / "config.cfg"),
            str(pre),
            "--paths.raw_text",
            str(files / "text.jsonl"),
            "--pretraining.max_epochs",
            "1",
        ).exit_code
        == 0
    )
    out = tmp_path / "train"
    result = run_cli(
        "train",
        str(files / "train.cfg"),
        "--output",
        str(out),
        "--paths.train",
        str(files / "ud.spacy"),
        "--paths.dev",
        str(files / "ud.spacy"),
        "--paths.init_tok2vec",
        str(pre / "model-last.bin"),
        "--training.max_steps",
        "1",
        "--training.eval_frequency",
        "1",
    )
    assert result.exit_code == 0, result.output
    # With a zero learning rate the trained tok2vec is exactly the pretrained one.
    trained = spacy.load(out / "model-last").get_pipe("tok2vec").model
    saved = srsly.msgpack_loads((pre / "model-last.bin").read_bytes())["params"]
    here = srsly.msgpack_loads(trained.to_bytes())["params"]
    for a, b in zip(saved, here):
        for name in a:
            if a[name] is not None:
                assert numpy.array_equal(a[name], b[name]), name


def test_train_with_weights_for_another_layer_fails(files, tmp_path):
    pre = tmp_path / "pre"
    assert (
        run_cli(
            "pretrain",
            str(files / "config.cfg"),
            str(pre),
            "--paths.raw_text",
            str(files / "text.jsonl"),
            "--pretraining.max_epochs",
            "1",
        ).exit_code
        == 0
    )
    result = run_cli(
        "train",
        str(files / "config.cfg"),
        "--output",
        str(tmp_path / "train"),
        "--paths.train",
        str(files / "ud.spacy"),
        "--paths.dev",
        str(files / "ud.spacy"),
        "--paths.init_tok2vec",
        str(pre / "model-last.bin"),
        "--components.tok2vec.model.encode.depth",
        "2",
        "--training.max_steps",
        "1",
    )
    assert result.exit_code == 1, result.output
    assert "do not fit" in result.output


def test_init_config_gpu_pretraining_works_end_to_end(files, tmp_path):
    """`init config --gpu --pretraining` (spaCy's fails with E001) pretrains the transformer here."""
    from ..core.transformer.conftest import make_tiny_model_dir

    tiny = make_tiny_model_dir(tmp_path, "bert", max_len=64)
    cfg = tmp_path / "config.cfg"
    result = run_cli(
        "init",
        "config",
        str(cfg),
        "--pipeline",
        "tagger",
        "--gpu",
        "--transformer",
        str(tiny),
        "--pretraining",
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    result = run_cli(
        "pretrain",
        str(cfg),
        str(out),
        "--paths.raw_text",
        str(files / "text.jsonl"),
        "--pretraining.max_epochs",
        "1",
        "--corpora.pretrain.limit",
        "10",
    )
    assert result.exit_code == 0, result.output
    assert "Pre-training masked-LM" in result.output
    assert (out / "model0.bin").read_bytes()[8:9] == b"{"  # safetensors encoder weights
