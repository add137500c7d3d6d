"""`spacy-transfer init fill-config`: the spec's snippets fill, bad configs fail cleanly."""

from pathlib import Path

import pytest
from spacy import util

from ..conftest import run_cli, run_cli_subprocess

SNIPPETS = Path(__file__).parents[1] / "snippets"


@pytest.mark.parametrize("name", ["shared", "independent", "static_vectors"])
def test_spacy_only_snippets_fill(tmp_path, name):
    out = tmp_path / "filled.cfg"
    result = run_cli("init", "fill-config", str(SNIPPETS / f"{name}.cfg"), str(out))
    assert result.exit_code == 0, result.output
    filled = util.load_config(out)
    assert filled["training"]["optimizer"]["@optimizers"] == "Adam.v1"
    assert "corpora" in filled


def test_custom_embedding_snippet_fills_with_code(tmp_path):
    out = tmp_path / "filled.cfg"
    args = [
        "init",
        "fill-config",
        str(SNIPPETS / "custom_embedding.cfg"),
        str(out),
        "--code",
        str(SNIPPETS / "custom_embedding_simple.py"),
    ]
    result = run_cli_subprocess(args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "I was imported!" in result.stdout and "I was called!" in result.stdout
    assert "output_width = 128" in out.read_text()


def test_stdin_to_stdout_with_diff():
    text = (SNIPPETS / "shared.cfg").read_text()
    result = run_cli("init", "fill-config", "-", "-", "--diff", input=text)
    assert result.exit_code == 0, result.output
    assert "+[training]" in result.stdout


def test_pretraining_block_has_spacy_defaults(tmp_path):
    out = tmp_path / "pretrain.cfg"
    result = run_cli("init", "fill-config", str(SNIPPETS / "shared.cfg"), str(out), "--pretraining")
    assert result.exit_code == 0, result.output
    config = util.load_config(out, interpolate=False)
    assert config["pretraining"]["max_epochs"] == 1000
    assert config["pretraining"]["objective"]["n_characters"] == 4
    assert config["corpora"]["pretrain"]["@readers"] == "spacy.JsonlCorpus.v1"


def test_overrides_apply_before_filling(tmp_path):
    out = tmp_path / "filled.cfg"
    result = run_cli(
        "init",
        "fill-config",
        str(SNIPPETS / "shared.cfg"),
        str(out),
        "--components.tok2vec.model.encode.depth",
        "2",
    )
    assert result.exit_code == 0, result.output
    assert util.load_config(out)["components"]["tok2vec"]["model"]["encode"]["depth"] == 2


# ---- bad input: exit 1, a message naming the problem, no traceback ----------------------


def bad(tmp_path, text: str, *extra: str):
    path = tmp_path / "bad.cfg"
    path.write_text(text)
    result = run_cli_subprocess(["init", "fill-config", str(path), str(tmp_path / "out.cfg"), *extra])
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "out.cfg").exists()
    return result.stdout + result.stderr


def shared_text() -> str:
    return (SNIPPETS / "shared.cfg").read_text()


def test_typo_in_architecture_names_the_closest(tmp_path):
    out = bad(tmp_path, shared_text().replace("spacy.MaxoutWindowEncoder.v2", "spacy.MaxoutWindowEncder.v2"))
    assert "spacy.MaxoutWindowEncder.v2" in out
    assert "did you mean 'spacy.MaxoutWindowEncoder.v2'" in out


def test_missing_section(tmp_path):
    text = shared_text().replace('[components.ner]\nfactory = "ner"\n', "")
    out = bad(tmp_path, text)
    assert "components.ner" in out


def test_wrong_type(tmp_path):
    out = bad(tmp_path, shared_text().replace("depth = 4", 'depth = "deep"'))
    assert "depth" in out


def test_broken_interpolation(tmp_path):
    text = shared_text().replace(
        '[components.ner.model.tok2vec]\n@architectures = "spacy.Tok2VecListener.v1"\nwidth = 96',
        '[components.ner.model.tok2vec]\n@architectures = "spacy.Tok2VecListener.v1"\nwidth = ${components.tok2vec.model.encode.widht}',
    )
    out = bad(tmp_path, text)
    assert "widht" in out


def test_missing_code_file(tmp_path):
    out = bad(tmp_path, shared_text(), "--code", str(tmp_path / "nope.py"))
    assert "nope.py" in out and "not found" in out


def test_code_that_fails_to_import(tmp_path):
    code = tmp_path / "broken.py"
    code.write_text("import thisdoesnotexist\n")
    out = bad(tmp_path, shared_text(), "--code", str(code))
    assert "broken.py" in out and "thisdoesnotexist" in out


def test_malformed_override(tmp_path):
    out = bad(tmp_path, shared_text(), "--training", "3")
    assert "--training" in out


def test_config_file_that_does_not_exist(tmp_path):
    result = run_cli_subprocess(["init", "fill-config", str(tmp_path / "missing.cfg")])
    assert result.returncode == 1
    assert "missing.cfg" in result.stdout + result.stderr


def test_verbose_shows_the_traceback(tmp_path):
    path = tmp_path / "bad.cfg"
    path.write_text(shared_text().replace("depth = 4", 'depth = "deep"'))
    result = run_cli_subprocess(["init", "fill-config", str(path), "-", "--verbose"])
    assert result.returncode == 1
    assert "Traceback" in result.stderr
