"""Bad pretraining input fails with a clear UserError (the CLI turns it into exit 1)."""

from __future__ import annotations

import gzip

import pytest

from spacy_transfer.core.pretraining import pretrain
from spacy_transfer.errors import UserError

from .conftest import tiny_config


def _fails(config, tmp_path, match):
    with pytest.raises(UserError, match=match) as e:
        pretrain(config, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # nothing half-written
    return e.value


def test_no_pretraining_block(tmp_path, raw_jsonl):
    config = tiny_config(raw_jsonl)
    del config["pretraining"]
    err = _fails(config, tmp_path, "no \\[pretraining\\] block")
    assert "--pretraining" in err.hint


def test_raw_text_path_not_set(tmp_path):
    _fails(tiny_config(None), tmp_path, "has no path")


def test_raw_text_missing(tmp_path):
    _fails(tiny_config(tmp_path / "missing.jsonl"), tmp_path, "Raw text not found")


def test_empty_corpus(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    _fails(tiny_config(empty), tmp_path, "no documents")


def test_corpus_filtered_to_nothing(tmp_path, raw_jsonl):
    _fails(tiny_config(raw_jsonl, {"corpora.pretrain.min_length": 100000}), tmp_path, "no documents")


def test_truncated_gzip(tmp_path, paragraphs):
    data = gzip.compress("\n".join(paragraphs).encode("utf8"))
    broken = tmp_path / "broken.txt.gz"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="Could not read the raw text file"):
        pretrain(tiny_config(broken, {"pretraining.max_epochs": 1}), tmp_path / "out", skip_last=True)


def test_bad_jsonl_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine line of text here"}\nnot json\n')
    _fails(tiny_config(bad), tmp_path, "Invalid JSON on line 2")


def test_vectors_objective_without_vectors(tmp_path, raw_jsonl):
    objective = {
        "@architectures": "spacy.PretrainVectors.v1",
        "maxout_pieces": 2,
        "hidden_size": 32,
        "loss": "cosine",
    }
    err = _fails(tiny_config(raw_jsonl, {"pretraining.objective": objective}), tmp_path, "needs word vectors")
    assert "vectors" in err.hint


def test_unknown_vectors_loss(tmp_path, raw_jsonl, vectors_model):
    objective = {
        "@architectures": "spacy.PretrainVectors.v1",
        "maxout_pieces": 2,
        "hidden_size": 32,
        "loss": "manhattan",
    }
    _fails(
        tiny_config(raw_jsonl, {"pretraining.objective": objective, "paths.vectors": str(vectors_model)}),
        tmp_path,
        "Unknown loss",
    )


def test_component_not_in_pipeline(tmp_path, raw_jsonl):
    err = _fails(
        tiny_config(raw_jsonl, {"pretraining.component": "tok2vecc"}), tmp_path, "not in the pipeline"
    )
    assert err.rows[0][1] == "tok2vec, tagger"


def test_layer_not_in_component(tmp_path, raw_jsonl):
    err = _fails(
        tiny_config(raw_jsonl, {"pretraining.component": "tagger", "pretraining.layer": "embed"}),
        tmp_path,
        "has no layer 'embed'",
    )
    assert "tok2vec" in err.rows[0][1]


def test_layer_of_the_wrong_type(tmp_path, raw_jsonl):
    """The tagger's output layer gets vectors, not docs: not a tok2vec layer."""
    _fails(
        tiny_config(raw_jsonl, {"pretraining.component": "tagger", "pretraining.layer": "softmax"}),
        tmp_path,
        "(not a tok2vec layer|Could not run the pretraining layer)",
    )


def test_resume_path_missing(tmp_path, raw_jsonl):
    with pytest.raises(UserError, match="--resume-path"):
        pretrain(tiny_config(raw_jsonl), tmp_path / "out", resume_path=tmp_path / "model3.bin")


def test_resume_from_renamed_file_needs_epoch(tmp_path, raw_jsonl):
    out = tmp_path / "out"
    pretrain(tiny_config(raw_jsonl, {"pretraining.max_epochs": 1}), out, skip_last=True)
    renamed = tmp_path / "weights.bin"
    renamed.write_bytes((out / "model0.bin").read_bytes())  # no state beside it
    with pytest.raises(UserError, match="--epoch-resume"):
        pretrain(tiny_config(raw_jsonl), tmp_path / "out2", resume_path=renamed)
