"""Lossless resume: an interrupted-and-resumed run ends with the same weights as an
uninterrupted one, because the output layer, optimizer and random states are saved."""

from __future__ import annotations

import io

import pytest
from spacy.util import registry

from spacy_transfer.core.pretraining import pretrain, setup_pretraining
from spacy_transfer.core.pretraining.raw_text import iter_docs
from spacy_transfer.core.pretraining.state_file import find_state, read_state

from .conftest import tiny_config

BATCHER = {
    "@batchers": "spacy.batch_by_words.v1",
    "size": 500,
    "discard_oversize": False,
    "tolerance": 0.2,
    "get_length": None,
}


@registry.batchers("test.interrupted_batch_by_words.v1")
def interrupted_batcher(size: int, stop_after: int):
    """spaCy's batch_by_words, with a Ctrl-C after ``stop_after`` batches in all (a real interrupt path)."""
    batch_by_words = registry.batchers.get("spacy.batch_by_words.v1")(
        size=size, discard_oversize=False, tolerance=0.2
    )
    seen = {"n": 0}

    def batch(items):
        for b in batch_by_words(items):
            if seen["n"] == stop_after:
                raise KeyboardInterrupt
            seen["n"] += 1
            yield b

    return batch


def _same_files(a, b, names):
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_resume_after_an_epoch_equals_uninterrupted(tmp_path, raw_jsonl):
    full, part = tmp_path / "full", tmp_path / "part"
    pretrain(tiny_config(raw_jsonl, {"pretraining.max_epochs": 3}), full)
    pretrain(tiny_config(raw_jsonl, {"pretraining.max_epochs": 2}), part, skip_last=True)
    pretrain(tiny_config(raw_jsonl, {"pretraining.max_epochs": 3}), part, resume_path=part / "model1.bin")
    _same_files(full, part, ["model2.bin", "model-last.bin"])
    # The head and optimizer moments are equal too, not only the saved layer.
    full_arrays, _ = read_state(find_state(full / "model2.bin"))
    part_arrays, _ = read_state(find_state(part / "model2.bin"))
    assert full_arrays.keys() == part_arrays.keys()
    assert any(k.startswith("mom1/") for k in full_arrays)
    for key in full_arrays:
        assert (full_arrays[key] == part_arrays[key]).all(), key


def test_interrupted_mid_epoch_resumes_from_model_last(tmp_path, raw_jsonl):
    """Ctrl-C in epoch 1 still writes model-last with its state; resuming skips the batches done."""
    full, part = tmp_path / "full", tmp_path / "part"
    pretrain(tiny_config(raw_jsonl, {"pretraining.max_epochs": 2, "pretraining.batcher": BATCHER}), full)
    # Stop 4 batches into epoch 1: count epoch 0's batches first.
    setup = setup_pretraining(tiny_config(raw_jsonl, {"pretraining.batcher": BATCHER}))
    per_epoch = sum(1 for _ in setup.settings["batcher"](iter_docs(setup.corpus, setup.nlp)))
    interrupted = {
        "@batchers": "test.interrupted_batch_by_words.v1",
        "size": 500,
        "stop_after": per_epoch + 4,
    }
    with pytest.raises(KeyboardInterrupt):
        pretrain(
            tiny_config(raw_jsonl, {"pretraining.max_epochs": 2, "pretraining.batcher": interrupted}), part
        )
    _, meta = read_state(part / "model-last.state.safetensors")
    assert (meta["epoch"], meta["batches_done"]) == (1, 4)
    pretrain(
        tiny_config(raw_jsonl, {"pretraining.max_epochs": 2, "pretraining.batcher": BATCHER}),
        part,
        resume_path=part / "model-last.bin",
    )
    _same_files(full, part, ["model1.bin", "model-last.bin"])


def test_weights_without_state_resume_like_spacy(tmp_path, raw_jsonl):
    """A model{N}.bin without its state (e.g. from spaCy) loads the layer only and says so."""
    out = tmp_path / "out"
    pretrain(tiny_config(raw_jsonl, {"pretraining.max_epochs": 1}), out, skip_last=True)
    (out / "model0.state.safetensors").unlink()
    printed = io.StringIO()
    result = pretrain(
        tiny_config(raw_jsonl, {"pretraining.max_epochs": 2}),
        out,
        resume_path=out / "model0.bin",
        stdout=printed,
    )
    assert "No resume state beside model0.bin" in printed.getvalue()
    assert result.start_epoch == 1  # read from the name, as spaCy does
    assert (out / "model1.bin").exists()
