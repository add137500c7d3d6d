"""`spacy-transfer distill`: a trained pipeline teaches a CNN student, end to end."""

from __future__ import annotations

import json

import spacy
import srsly

from tests.core.distill.conftest import distill_setup  # noqa: F401  (fixture)
from tests.core.training.data import TINY_SHARED, overrides_args

TINY = overrides_args(TINY_SHARED)


def _distill(cli, setup, out, *extra):
    return cli(
        "distill", str(setup.teacher), str(setup.student), "--output", str(out),
        "--paths.raw_text", str(setup.raw), "--training.max_steps", "12", "--training.eval_frequency", "6",
        "--shard-size", "40", *TINY, *extra,
    )  # fmt: skip


def test_the_student_learns_from_the_teacher_and_gold_data_and_is_compared_with_it(cli, distill_setup, tmp_path):  # noqa: F811
    s = distill_setup
    result = _distill(cli, s, tmp_path / "out", "--paths.train", str(s.train), "--paths.dev", str(s.dev))
    assert result.exit_code == 0, result.output
    assert "Soft targets" in result.output and "['tagger']" in result.output
    out = tmp_path / "out"
    for name in ("model-best", "model-last", "checkpoint", "metrics.jsonl", "silver/manifest.json"):
        assert (out / name).exists(), name
    report = json.loads((out / "distill.json").read_text())
    assert set(report) >= {"teacher", "student", "agreement_with_teacher", "speed_ratio", "raw_text"}
    assert "tag_acc" in report["student"]["dev"] and "tag_acc" in report["agreement_with_teacher"]
    assert report["raw_text"]["docs"] == 120 and report["student"]["words_per_s"] > 0
    student = spacy.load(out / "model-best")  # a plain spaCy pipeline
    assert student.pipe_names == ["tok2vec", "tagger", "parser", "ner"]
    teacher = spacy.load(s.teacher)
    assert set(student.get_pipe("tagger").labels) == set(teacher.get_pipe("tagger").labels)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 12


def test_without_dev_data_the_first_shard_is_the_dev_set_and_training_resumes(cli, distill_setup, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    result = _distill(cli, distill_setup, out)
    assert result.exit_code == 0, result.output
    assert "the first shard" in result.output
    config = srsly.read_json(out / "silver" / "manifest.json")
    assert config["finished"]
    again = _distill(cli, distill_setup, out, "--resume", "--training.max_steps", "18")
    assert again.exit_code == 0, again.output
    assert "Reusing the teacher's annotations" in again.output and "Resuming from" in again.output
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 18


def test_mistakes_get_clear_errors_and_write_nothing(cli, distill_setup, tmp_path):  # noqa: F811
    s = distill_setup
    other = tmp_path / "textcat.cfg"
    assert cli("init", "config", str(other), "--pipeline", "tagger,textcat").exit_code == 0
    german = tmp_path / "de.cfg"
    assert cli("init", "config", str(german), "--pipeline", "tagger", "--lang", "de").exit_code == 0
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    cases = [
        (["distill", str(s.teacher), str(other), "--paths.raw_text", str(s.raw)], "cannot teach", "textcat"),
        (["distill", str(s.teacher), str(german), "--paths.raw_text", str(s.raw)], "'de' pipeline", "language"),
        (["distill", str(s.teacher), str(s.student)], "No raw text", "--paths.raw_text"),
        (["distill", str(s.teacher), str(s.student), "--paths.raw_text", str(empty)], "no documents", "text"),
        (["distill", str(tmp_path / "nope"), str(s.student), "--paths.raw_text", str(s.raw)], "not found", "model-best"),
        (["distill", str(s.teacher), str(s.student), "--paths.raw_text", str(s.raw), "--temperature", "0"], "Invalid", "--temperature"),
        (["distill", str(s.teacher), str(s.student), "--paths.raw_text", str(s.raw), "--paths.train", str(s.raw)], "cannot be read", ".spacy"),
    ]
    for args, message, detail in cases:
        out = tmp_path / "out"
        result = cli(*args, "--output", str(out))
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output and detail in result.output, result.output
        assert "Traceback" not in result.output
        assert not (out / "model-best").exists()
