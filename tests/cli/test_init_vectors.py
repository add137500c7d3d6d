"""`spacy-transfer init vectors`: convert a file or train on raw text; report; errors."""

from __future__ import annotations

import subprocess
import sys

import numpy
import spacy

from tests.conftest import run_cli, run_cli_subprocess

VEC = "4 3\ncat 0.9 0.1 0.0\ndog 0.8 0.3 0.0\ncar 0.0 0.1 0.9\nkitty 0.9 0.1 0.0\n"


def write_vec(tmp_path, text=VEC, name="v.vec"):
    path = tmp_path / name
    path.write_text(text, encoding="utf8")
    return path


def test_converts_and_prints_the_report(tmp_path):
    out = tmp_path / "vectors"
    result = run_cli("init", "vectors", "en", str(write_vec(tmp_path)), str(out))
    assert result.exit_code == 0, result.output
    for line in [
        "format",
        "keys (words)",
        "4",
        "3 x 3",
        "words sharing an identical row",
        "Saved a pipeline with 3 vectors",
    ]:
        assert line in result.output
    nlp = spacy.load(out)
    assert nlp.vocab["cat"].similarity(nlp.vocab["kitty"]) > 0.99


def test_prune_truncate_name_attr_options(tmp_path):
    out = tmp_path / "vectors"
    result = run_cli(
        "init",
        "vectors",
        "en",
        str(write_vec(tmp_path)),
        str(out),
        "--prune",
        "2",
        "--truncate",
        "3",
        "--name",
        "en_small.vectors",
        "--attr",
        "LOWER",
    )
    assert result.exit_code == 0, result.output
    nlp = spacy.load(out)
    assert nlp.vocab.vectors.shape == (2, 3) and nlp.vocab.vectors.name == "en_small.vectors"
    numpy.testing.assert_allclose(nlp("CAR")[0].vector, nlp("dog")[0].vector)  # car pruned to dog's row
    assert "pruned 'car' -> 'dog'" in result.output


def test_malformed_line_fails_with_its_number(tmp_path):
    path = write_vec(tmp_path, "3 2\ncat 0.1 0.2\ndog 0.3\nfox 0.5 0.6\n")
    out = tmp_path / "vectors"
    result = run_cli("init", "vectors", "en", str(path), str(out))
    assert result.exit_code == 1
    assert "✘ Line 3 of" in result.output and "--skip-bad-lines" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_skip_bad_lines_reports_them(tmp_path):
    path = write_vec(tmp_path, "3 2\ncat 0.1 0.2\ndog 0.3\nfox 0.5 0.6\n")
    result = run_cli("init", "vectors", "en", str(path), str(tmp_path / "vectors"), "--skip-bad-lines")
    assert result.exit_code == 0, result.output
    assert "skipped line 3: expected a word and 2 numbers" in result.output


def test_missing_arguments(tmp_path):
    result = run_cli("init", "vectors", "en")
    assert result.exit_code == 1 and "Give LANG, VECTORS and OUTPUT_DIR" in result.output
    result = run_cli(
        "init",
        "vectors",
        "en",
        str(write_vec(tmp_path)),
        str(tmp_path / "o"),
        "--train",
        str(tmp_path / "t.txt"),
    )
    assert result.exit_code == 1 and "With --train, give only LANG and OUTPUT_DIR" in result.output


def test_bad_mode_and_format(tmp_path):
    path = str(write_vec(tmp_path))
    assert (
        "Unknown --mode"
        in run_cli("init", "vectors", "en", path, str(tmp_path / "o"), "--mode", "fast").output
    )
    assert (
        "Unknown --format"
        in run_cli("init", "vectors", "en", path, str(tmp_path / "o"), "--format", "csv").output
    )


def test_train_on_raw_text(tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text("The cat sat on the mat.\nThe dog sat on the log.\n" * 20)
    out = tmp_path / "vectors"
    result = run_cli(
        "init",
        "vectors",
        "en",
        "--train",
        str(raw),
        str(out),
        "--dims",
        "8",
        "--epochs",
        "1",
        "--min-count",
        "1",
        "--workers",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert "word2vec (cbow), 8 dims" in result.output
    assert spacy.load(out).vocab.vectors.shape == (9, 8)  # 9 distinct tokens, 'The' and 'the' apart


def test_progress_bar_only_when_asked_or_on_a_terminal(tmp_path):
    path = str(write_vec(tmp_path))
    quiet = run_cli("init", "vectors", "en", path, str(tmp_path / "a"))  # output is not a terminal
    assert quiet.exit_code == 0 and "Reading vectors" not in quiet.output
    forced = run_cli_subprocess(["init", "vectors", "en", path, str(tmp_path / "b"), "--progress"])
    assert forced.returncode == 0 and "Reading vectors" in forced.stderr


def test_without_gensim_binary_formats_say_what_to_install(tmp_path):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(3)
    kv.add_vectors(["cat", "dog"], numpy.eye(2, 3, dtype=numpy.float32))
    model = tmp_path / "v.kv"
    kv.save(str(model))
    # A fresh interpreter in which `import gensim` fails, as without the `vectors` extra.
    code = (
        "import sys; sys.modules['gensim'] = None; from spacy_transfer.cli import main; "
        f"sys.argv = ['spacy-transfer', 'init', 'vectors', 'en', {str(model)!r}, {str(tmp_path / 'out')!r}]; main()"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "needs gensim" in proc.stdout and "spacy-transfer[vectors]" in proc.stdout
    # Text vectors need nothing extra.
    code = code.replace(repr(str(model)), repr(str(write_vec(tmp_path))))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_help_has_examples():
    result = run_cli("init", "vectors", "--help")
    assert result.exit_code == 0 and "--train corpus.jsonl.gz" in result.output
