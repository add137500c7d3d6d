"""Training commands run on tcmalloc (else jemalloc) where the machine has one: which library
is chosen, what a bad setting says, and that a real training run restarts itself on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spacy_transfer.core import allocator
from spacy_transfer.errors import UserError
from tests.conftest import run_cli_subprocess
from tests.core.training.data import TINY_SHARED, filled_snippet, overrides_args

TCMALLOC = allocator.find("tcmalloc")
needs_tcmalloc = pytest.mark.skipif(
    TCMALLOC is None or not sys.platform.startswith("linux"),
    reason="no tcmalloc on this machine (.ci/run installs libtcmalloc-minimal4)",
)


def loaded_in_child(env: dict) -> str:
    code = "from spacy_transfer.core.allocator import loaded; print(loaded())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_auto_takes_tcmalloc_then_jemalloc_then_the_system_malloc():
    name, lib = allocator.choose("auto")
    if allocator.find("tcmalloc"):
        assert (name, lib) == ("tcmalloc", allocator.find("tcmalloc"))
    elif allocator.find("jemalloc"):
        assert (name, lib) == ("jemalloc", allocator.find("jemalloc"))
    else:
        assert (name, lib) == ("system", None)


def test_system_keeps_the_system_malloc_and_preloads_nothing(monkeypatch):
    assert allocator.choose("system") == ("system", None)
    assert allocator.preload_environment("system") == {}
    monkeypatch.setenv(allocator.ENV, "system")  # info says it was asked for, not that one is missing
    assert allocator.describe() == "training runs on the system's malloc (SPACY_TRANSFER_ALLOCATOR=system)"


@needs_tcmalloc
def test_the_preload_environment_starts_a_process_on_tcmalloc_and_keeps_the_users_preload(monkeypatch):
    monkeypatch.setenv("LD_PRELOAD", "")
    env = allocator.preload_environment("tcmalloc")
    assert env["LD_PRELOAD"] == TCMALLOC
    assert int(env["TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD"]) >= 1 << 40  # no stderr report per large batch
    assert loaded_in_child({**os.environ, **env}) == "tcmalloc"
    assert loaded_in_child(dict(os.environ)) == "system"
    monkeypatch.setenv("LD_PRELOAD", "libm.so.6")
    assert allocator.preload_environment("tcmalloc")["LD_PRELOAD"] == f"{TCMALLOC} libm.so.6"


def test_an_allocator_given_by_path_must_exist(tmp_path):
    with pytest.raises(UserError, match="no such library file") as err:
        allocator.choose(str(tmp_path / "libnothing.so"))
    assert "auto, tcmalloc, jemalloc, system" in err.value.hint


def test_an_unknown_allocator_name_lists_the_choices():
    with pytest.raises(UserError, match="'mimalloc' is not an allocator") as err:
        allocator.choose("mimalloc")
    assert "auto, tcmalloc, jemalloc, system" in err.value.hint


def test_the_command_is_the_first_word_that_is_not_an_option():
    assert allocator.command_of(["train", "config.cfg", "--output", "x"]) == "train"
    assert allocator.command_of(["--help"]) is None
    assert allocator.command_of(["init", "config", "-"]) == "init"


def test_a_bad_setting_stops_a_training_command_before_it_starts(tmp_path):
    out = run_cli_subprocess(
        ["train", str(tmp_path / "config.cfg")], env={allocator.ENV: str(tmp_path / "missing.so")}
    )
    assert out.returncode == 1
    assert "SPACY_TRANSFER_ALLOCATOR=" in out.stdout + out.stderr
    assert "no such library file" in out.stdout + out.stderr
    assert not (tmp_path / "config.cfg").exists()


def train(tmp_path: Path, corpora, env: dict) -> str:
    config = filled_snippet("shared.cfg", tmp_path / "shared.cfg")
    args = ["train", str(config), *overrides_args({**TINY_SHARED, "training.max_steps": 2})]
    args += overrides_args({"paths.train": str(corpora.uner_train), "paths.dev": str(corpora.uner_dev)})
    out = run_cli_subprocess(args, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@needs_tcmalloc
def test_train_restarts_itself_on_tcmalloc_and_says_so(tmp_path, training_corpora):
    assert "Memory allocator: tcmalloc" in train(tmp_path, training_corpora, {allocator.ENV: "auto"})


def test_train_stays_on_the_system_malloc_when_asked(tmp_path, training_corpora):
    log = train(tmp_path, training_corpora, {allocator.ENV: "system"})
    assert "Memory allocator: the system's malloc (SPACY_TRANSFER_ALLOCATOR=system)" in log


@pytest.mark.parametrize(
    "orig_argv, argv, expected",
    [
        (
            ["py", "/venv/bin/spacy-transfer", "train", "c.cfg"],
            ["/venv/bin/spacy-transfer", "train", "c.cfg"],
            ["train", "c.cfg"],
        ),
        (["py", "-m", "spacy_transfer", "train", "c.cfg"], ["-m"], ["train", "c.cfg"]),
        (["py", "-X", "importtime", "-u", "-mspacy_transfer", "pretrain"], ["-m"], ["pretrain"]),
        (["py", "-m", "pytest", "tests"], ["/venv/bin/pytest", "tests"], None),
        (["py", "-c", "import spacy_transfer", "train"], ["-c", "train"], None),
        (["py", "my_script.py", "train"], ["my_script.py", "train"], None),
    ],
)
def test_the_command_line_is_told_apart_from_a_program_that_imports_the_package(orig_argv, argv, expected):
    assert allocator.cli_arguments(orig_argv, argv) == expected


def _imports_of(stderr: str, module: str) -> int:
    """How many times ``python -X importtime`` logged ``module`` itself being imported."""
    return sum(
        1
        for line in stderr.splitlines()
        if line.startswith("import time:") and line.split("|")[-1].strip() == module
    )


@needs_tcmalloc
@pytest.mark.parametrize("entry", ["module", "script"])
def test_a_training_command_restarts_before_spacy_and_torch_load(entry):
    script = Path(sys.executable).parent / "spacy-transfer"
    if entry == "script" and not script.exists():
        pytest.skip("the spacy-transfer script is not installed beside this Python")
    program = ["-m", "spacy_transfer"] if entry == "module" else [str(script)]
    env = {**os.environ, allocator.ENV: "auto"}
    env.pop(allocator._STARTED, None)
    out = subprocess.run(
        [sys.executable, "-X", "importtime", *program, "train", "--help"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Usage" in out.stdout
    # Both processes log their imports to the same stderr: the allocator module twice, spaCy and torch once.
    assert _imports_of(out.stderr, "spacy_transfer.core.allocator") == 2
    assert (_imports_of(out.stderr, "spacy"), _imports_of(out.stderr, "torch")) == (1, 1)
