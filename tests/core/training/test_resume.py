"""Resume is exact: a run killed at a random step and resumed ends where an
uninterrupted run with the same seed ends — bitwise equal weights, equal scores."""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path

import numpy
import pytest
import spacy

from spacy_transfer.core import allocator
from tests.conftest import pipeline_params, run_cli, run_cli_subprocess

from .data import REPO, TINY_SHARED, overrides_args

CODE = str(REPO / "tests" / "core" / "training" / "callbacks.py")
MAX_STEPS = 24
EVAL_FREQUENCY = 5


def train_args(config: Path, output: Path, corpora) -> list:
    return [
        "train",
        str(config),
        "--output",
        str(output),
        "--code",
        CODE,
        *overrides_args(
            {
                **TINY_SHARED,
                "paths.train": str(corpora.uner_train),
                "paths.dev": str(corpora.uner_dev),
                "training.max_steps": MAX_STEPS,
                "training.eval_frequency": EVAL_FREQUENCY,
            }
        ),
    ]


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = pipeline_params(a), pipeline_params(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert numpy.array_equal(wa[key], wb[key]), f"{key} differs"


def metrics(output: Path) -> list:
    rows = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
    return [
        (
            r["step"],
            r["epoch"],
            r["losses"],
            {k: v for k, v in r["scores"].items() if k != "speed"},
            r["score"],
        )
        for r in rows
    ]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, resume_config, training_corpora) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted") / "out"
    result = run_cli(*train_args(resume_config, out, training_corpora))
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_to_identical_weights_and_scores(
    signum, uninterrupted, resume_config, training_corpora, tmp_path
):
    # A step after the first checkpoint (step 0) and before the last one.
    step = random.Random().randint(2, MAX_STEPS - 2)
    out = tmp_path / "out"
    args = train_args(resume_config, out, training_corpora)
    killed = run_cli_subprocess(args, env={"SPACY_TRANSFER_TEST_SIGNAL_AT": f"{step}:{int(signum)}"})
    if allocator.find("tcmalloc"):  # killed on tcmalloc, resumed below in this process on the system's malloc
        assert "Memory allocator: tcmalloc" in killed.stdout, killed.stdout
    if signum == signal.SIGKILL:
        assert killed.returncode == -signal.SIGKILL, killed.stderr
    else:  # Ctrl-C: finishes the step it is in, saves a checkpoint, exits 128+2
        assert killed.returncode == 130, killed.stdout + killed.stderr
        assert "--resume" in killed.stdout
        state = json.loads((out / "checkpoint" / "state.json").read_text())
        assert state["state"]["step"] == step
    assert (out / "checkpoint" / "state.json").exists()
    assert not (out / "model-last" / "config.cfg").exists() or (out / "model-best").exists()

    resumed = run_cli(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "Resuming from" in resumed.output
    assert_same_weights(uninterrupted / "model-last", out / "model-last")
    assert_same_weights(uninterrupted / "model-best", out / "model-best")
    assert metrics(out) == metrics(uninterrupted), f"killed at step {step}"
    assert (
        spacy.load(out / "model-best").meta["performance"]
        == spacy.load(uninterrupted / "model-best").meta["performance"]
    )


def test_resume_of_a_finished_run_changes_nothing(uninterrupted, resume_config, training_corpora):
    before = (uninterrupted / "checkpoint" / "state.json").read_text()
    result = run_cli(*train_args(resume_config, uninterrupted, training_corpora), "--resume")
    assert result.exit_code == 0, result.output
    assert "nothing to do" in result.output
    assert (uninterrupted / "checkpoint" / "state.json").read_text() == before
