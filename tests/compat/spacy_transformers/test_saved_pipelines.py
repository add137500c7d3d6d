"""Pipelines saved by the real spacy-transformers 1.4.0 and 2.0 load with plain
``spacy.load`` (from disk and from bytes) and ``spacy-transfer migrate``, and give what
spacy-transformers gave.

The fixtures were made by ``scripts/make_st_fixtures.sh``: ``tests/fixtures/st14`` in a venv
with spacy-transformers 1.4.0 and transformers 4.53.2 (weights as a torch state dict),
``tests/fixtures/st20`` with spacy-transformers 2.0 on our transformers version (weights
as safetensors inside the component's msgpack).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
from scripts.make_st_fixtures import doc_vector_setter  # the setter the fixtures ran, unchanged

import spacy_transfer  # noqa: F401

ROOT = Path(__file__).resolve().parents[2] / "fixtures"
ANCHORS = ["st14", "st20"]
FIXTURES = ROOT / "st14"
NAMES = ["bert", "roberta", "bert-tok2vec"]
SAVED = [pytest.param(ROOT / anchor / name, id=f"{anchor}-{name}") for anchor in ANCHORS for name in NAMES]


def expected(path: Path) -> dict:
    return json.loads((path / "outputs.json").read_text())


def shim_messages(path: Path) -> list:
    import srsly

    msg = srsly.msgpack_loads(path.read_bytes())
    return [srsly.msgpack_loads(b) for node_shims in msg["shims"] for b in node_shims]


def test_the_fixtures_hold_each_versions_weight_format():
    from spacy_transfer.core.io import is_safetensors

    for anchor, safetensors in (("st14", False), ("st20", True)):
        (state,) = [m["state"] for m in shim_messages(ROOT / anchor / "bert" / "transformer" / "model")]
        assert is_safetensors(state) is safetensors, anchor
        assert state[:2] != b"PK" if safetensors else state[:2] == b"PK"


def check_same_outputs(nlp, want: dict) -> None:
    if "transformer" in nlp.pipe_names:
        nlp.get_pipe("transformer").set_extra_annotations = doc_vector_setter
    for doc, ref in zip(nlp.pipe(want["texts"]), want["docs"]):
        assert [t.tag_ for t in doc] == ref["tags"]
        assert [[e.start_char, e.end_char, e.label_] for e in doc.ents] == [list(e) for e in ref["ents"]]
        if "parser" in nlp.pipe_names:
            assert [t.head.i for t in doc] == ref["heads"] and [t.dep_ for t in doc] == ref["deps"]
        if "aligned_rows" not in ref:
            continue
        data = doc._.trf_data
        assert len(data.tensors) == ref["n_tensors"]
        lhs = data.tensors[0]
        assert (
            lhs.ndim == 3
            and lhs.shape[0] == ref["last_hidden_state_shape"][0]
            and lhs.shape[2] == ref["last_hidden_state_shape"][2]
        )
        if ref["pooler_shape"] is not None:
            assert list(data.tensors[-1].shape) == ref["pooler_shape"]
        assert data.align.lengths.tolist() == ref["align_lengths"]
        assert list(data.wordpieces.lengths) == ref["wordpiece_lengths"]
        assert [
            row[:n].tolist() for row, n in zip(data.wordpieces.input_ids, data.wordpieces.lengths)
        ] == ref["wordpiece_ids"]
        assert [s[:n] for s, n in zip(data.wordpieces.strings, data.wordpieces.lengths)] == ref[
            "wordpiece_strings"
        ]
        rows = lhs.reshape(-1, data.width)[data.align.dataXd]
        numpy.testing.assert_allclose(
            rows, numpy.asarray(ref["aligned_rows"], dtype="f").reshape(rows.shape), atol=1e-4
        )
        numpy.testing.assert_allclose(doc.user_data["trf_vector"], ref["trf_vector"], atol=1e-4)


@pytest.mark.parametrize("path", SAVED)
def test_spacy_load_reads_a_spacy_transformers_pipeline(path):
    nlp = spacy.load(path)
    check_same_outputs(nlp, expected(path))


@pytest.mark.parametrize("anchor", ANCHORS)
def test_from_bytes_reads_spacy_transformers_nlp_to_bytes(anchor):
    config = spacy.util.load_config(ROOT / anchor / "bert" / "config.cfg")
    nlp = spacy.util.load_model_from_config(config).from_bytes((ROOT / anchor / "bert.bytes").read_bytes())
    check_same_outputs(nlp, expected(ROOT / anchor / "bert"))


@pytest.mark.parametrize("path", [p for p in SAVED if "roberta" not in p.id])
def test_our_bytes_of_a_loaded_pipeline_round_trip(path):
    nlp = spacy.load(path)
    again = spacy.blank("en").from_config(nlp.config).from_bytes(nlp.to_bytes())  # our format now
    check_same_outputs(again, expected(path))


@pytest.mark.parametrize("path", SAVED)
def test_migrate_writes_our_format_with_the_same_outputs(path, tmp_path):
    out = tmp_path / "migrated"
    proc = subprocess.run(
        [sys.executable, "-m", "spacy_transfer", "migrate", str(path), str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    from spacy_transfer.compat.migrate import st_components

    assert st_components(path), "the fixture is in spacy-transformers' format"
    assert st_components(out) == [], "no spacy-transformers shims remain"
    if path.name != "bert-tok2vec":  # a shared transformer is a plain Hugging Face folder
        assert (out / "transformer" / "model" / "hf0" / "model.safetensors").is_file()
    check_same_outputs(spacy.load(out), expected(path))


def test_migrate_refuses_to_overwrite_and_leaves_nothing_half_written(tmp_path):
    out = tmp_path / "existing"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = subprocess.run(
        [sys.executable, "-m", "spacy_transfer", "migrate", str(FIXTURES / "bert"), str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    assert "--force" in proc.stdout + proc.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    "anchor,corrupt",
    [
        ("st14", lambda state: b"not a torch file"),
        ("st20", lambda state: state[: len(state) // 2]),  # safetensors cut short
    ],
)
def test_a_corrupt_weights_blob_names_the_file(anchor, corrupt, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(ROOT / anchor / "bert", broken)
    import srsly

    model_file = broken / "transformer" / "model"
    msg = srsly.msgpack_loads(model_file.read_bytes())
    for node_shims in msg["shims"]:
        for i, shim_bytes in enumerate(node_shims):
            shim = srsly.msgpack_loads(shim_bytes)
            shim["state"] = corrupt(shim["state"])
            node_shims[i] = srsly.msgpack_dumps(shim)
    model_file.write_bytes(srsly.msgpack_dumps(msg))
    proc = subprocess.run(
        [sys.executable, "-m", "spacy_transfer", "migrate", str(broken), str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text
    assert "neither safetensors nor a readable torch state dict" in " ".join(text.split())
    assert "transformer/model" in text
    assert not (tmp_path / "out").exists()


def test_a_model_file_that_is_not_a_model_names_the_file(tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(FIXTURES / "bert", broken)
    (broken / "transformer" / "model").write_bytes(b"\x00 not a thinc model at all")
    proc = subprocess.run(
        [sys.executable, "-m", "spacy_transfer", "migrate", str(broken), str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Traceback" not in text
    assert "transformer/model" in text and "does not fit" in text
    assert not (tmp_path / "out").exists()
