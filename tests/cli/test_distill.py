"""`spacy-transfer distill`: a trained pipeline teaches a CNN student, end to end."""

from __future__ import annotations

import json

import spacy
import srsly

from tests.core.distill.conftest import distill_setup  # noqa: F401  (fixture)
from tests.core.training.data import TINY_SHARED, overrides_args
from tests.core.transformer.conftest import tiny_model  # noqa: F401  (fixture)

TINY = overrides_args(TINY_SHARED)
TOK2VEC_TINY = overrides_args({k: v for k, v in TINY_SHARED.items() if k.startswith("components.tok2vec.")})


def _distill(cli, setup, out, *extra):
    return cli(
        "distill", str(setup.teacher), str(setup.student), "--output", str(out),
        "--paths.raw_text", str(setup.raw), "--training.max_steps", "12", "--training.eval_frequency", "6",
        "--shard-size", "40", *TINY, *extra,
    )  # fmt: skip


def test_the_student_learns_from_the_teacher_and_gold_data_and_is_compared_with_it(
    cli, distill_setup, tmp_path
):  # noqa: F811
    s = distill_setup
    result = _distill(cli, s, tmp_path / "out", "--paths.train", str(s.train), "--paths.dev", str(s.dev))
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the printer wraps long lines
    assert (
        "Soft targets (T=1.0, top 5): ['tagger']; per parser state (T=1.0): ['parser', 'ner']; hard targets: none"
        in said
    )
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
    strings = set(json.loads((out / "model-best" / "vocab" / "strings.json").read_text()))
    assert "Woodhouse" not in strings  # the raw text's words are not saved with the student
    assert set(student.get_pipe("parser").labels) <= strings
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 12
    assert all(rows[-1]["losses"][name] > 0 for name in ("tagger", "parser", "ner")), rows[-1]["losses"]


def test_max_docs_extends_a_smaller_cache_and_trims_a_larger_one(cli, distill_setup, tmp_path):  # noqa: F811
    s, out = distill_setup, tmp_path / "out"
    data = ("--paths.train", str(s.train), "--paths.dev", str(s.dev))
    assert _distill(cli, s, out, *data, "--max-docs", "40").exit_code == 0
    more = _distill(cli, s, out, *data)  # all the raw text now
    assert more.exit_code == 0, more.output
    assert "Extending the annotation" in more.output
    assert json.loads((out / "distill.json").read_text())["raw_text"]["docs"] == 120
    fewer = _distill(cli, s, out, *data, "--max-docs", "60")
    assert fewer.exit_code == 0, fewer.output
    assert "trains on the first 60" in fewer.output
    assert json.loads((out / "distill.json").read_text())["raw_text"]["docs"] == 60
    assert srsly.read_json(out / "silver" / "manifest.json")["docs_done"] == 120  # nothing deleted
    other = _distill(cli, s, out, *data, "--max-docs", "100", "--resume")  # another stream: not a resume
    assert other.exit_code != 0 and "corpora.train.limit" in other.output, other.output


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
        (
            ["distill", str(s.teacher), str(german), "--paths.raw_text", str(s.raw)],
            "'de' pipeline",
            "language",
        ),
        (["distill", str(s.teacher), str(s.student)], "No raw text", "--paths.raw_text"),
        (["distill", str(s.teacher), str(s.student), "--paths.raw_text", str(empty)], "no documents", "text"),
        (
            ["distill", str(tmp_path / "nope"), str(s.student), "--paths.raw_text", str(s.raw)],
            "not found",
            "model-best",
        ),
        (
            ["distill", str(s.teacher), str(s.student), "--paths.raw_text", str(s.raw), "--temperature", "0"],
            "Invalid",
            "--temperature",
        ),
        (
            [
                "distill",
                str(s.teacher),
                str(s.student),
                "--paths.raw_text",
                str(s.raw),
                "--paths.train",
                str(s.raw),
            ],
            "cannot be read",
            ".spacy",
        ),
    ]
    for args, message, detail in cases:
        out = tmp_path / "out"
        result = cli(*args, "--output", str(out))
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output and detail in result.output, result.output
        assert "Traceback" not in result.output
        assert not (out / "model-best").exists()


def test_a_transformer_teacher_teaches_a_cnn_student(
    cli, tiny_model, training_corpora, distill_setup, tmp_path
):  # noqa: F811
    cfg = tmp_path / "trf.cfg"
    assert (
        cli(
            "init", "config", str(cfg), "--pipeline", "tagger,ner", "--transformer", str(tiny_model("bert"))
        ).exit_code
        == 0
    )
    result = cli(
        "train", str(cfg), "--output", str(tmp_path / "trf"), "--paths.train", str(training_corpora.tiny_train),
        "--paths.dev", str(training_corpora.tiny_dev), "--training.max_steps", "6", "--training.eval_frequency", "3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    student = tmp_path / "student.cfg"
    assert cli("init", "config", str(student), "--pipeline", "tagger,ner").exit_code == 0
    s = distill_setup
    result = cli(
        "distill", str(tmp_path / "trf" / "model-best"), str(student), "--output", str(tmp_path / "out"),
        "--paths.raw_text", str(s.raw), "--paths.train", str(s.train), "--paths.dev", str(s.dev),
        "--training.max_steps", "6", "--training.eval_frequency", "3", *TINY,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "distill.json").read_text())
    assert report["teacher"]["words_per_s"] > 0 and report["student"]["words_per_s"] > 0
    assert "tag_acc" in report["agreement_with_teacher"]
    assert spacy.load(tmp_path / "out" / "model-best").pipe_names == ["tok2vec", "tagger", "ner"]


def test_a_student_with_another_tokenizer_is_refused(cli, distill_setup, tmp_path):  # noqa: F811
    code = tmp_path / "whitespace.py"
    code.write_text(
        "import spacy\nfrom spacy.tokens import Doc\n\n"
        "@spacy.registry.tokenizers('whitespace_tokenizer')\n"
        "def create():\n"
        "    def make(nlp):\n"
        "        return lambda text: Doc(nlp.vocab, words=text.split())\n"
        "    return make\n"
    )
    other = tmp_path / "student.cfg"
    other.write_text(
        distill_setup.student.read_text().replace('"spacy.Tokenizer.v1"', '"whitespace_tokenizer"', 1)
    )
    result = cli(
        "distill", str(distill_setup.teacher), str(other), "--output", str(tmp_path / "out"),
        "--paths.raw_text", str(distill_setup.raw), "--code", str(code),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "tokenizer differs" in result.output and "whitespace_tokenizer" in result.output
    assert not (tmp_path / "out").exists()


def test_a_spancat_teacher_teaches_its_span_scores(cli, shared_data, tmp_path):
    from spacy.tokens import DocBin

    from tests.core.distill.conftest import name_examples, raw_texts, trained_spancat, write_raw

    teacher = trained_spancat("spancat", tmp_path / "teacher")
    gold = tmp_path / "gold.spacy"
    DocBin(docs=[eg.reference for eg in name_examples(spacy.blank("en"), "sc", 20)]).to_disk(gold)
    student = tmp_path / "student.cfg"
    assert cli("init", "config", str(student), "--pipeline", "spancat").exit_code == 0
    raw = write_raw(tmp_path / "raw.jsonl", raw_texts(shared_data, 40))
    result = cli(
        "distill", str(teacher), str(student), "--output", str(tmp_path / "out"), "--paths.raw_text", str(raw),
        "--paths.train", str(gold), "--paths.dev", str(gold), "--training.max_steps", "6",
        "--training.eval_frequency", "3", *TOK2VEC_TINY,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "['spancat']" in result.output.split("hard targets")[0]  # a soft target, not a hard one
    report = json.loads((tmp_path / "out" / "distill.json").read_text())
    assert "spans_sc_f" in report["agreement_with_teacher"]
    nlp = spacy.load(tmp_path / "out" / "model-best")
    assert nlp.pipe_names == ["tok2vec", "spancat"] and list(nlp.get_pipe("spancat").labels) == ["PER"]
