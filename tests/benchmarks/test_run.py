"""`make bench` ends by writing every stored result into benchmarks/README.md: each result
file, whatever its shape, gets a section there."""

from __future__ import annotations

import json

from benchmarks import run


def test_every_stored_result_is_summarised():
    text = run.summarise()
    for path in sorted(run.RESULTS.glob("*.json")):
        name = json.loads(path.read_text()).get("name", path.stem)
        assert f"### {name}  (" in text, path.name


def test_a_result_that_names_its_machine_in_words_is_summarised(tmp_path, monkeypatch):
    (tmp_path / "ab.json").write_text(json.dumps({"name": "ab", "machine": "a 2-core Xeon", "time": "now"}))
    monkeypatch.setattr(run, "RESULTS", tmp_path)
    assert "### ab  (now)\nMachine: a 2-core Xeon" in run.summarise()
