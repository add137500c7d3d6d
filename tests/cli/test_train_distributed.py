"""`spacy-transfer train --nproc 2`: data-parallel training on 2 CPU processes (gloo, loopback)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy
import pytest

from ..conftest import DATA, REPO
from ..conftest import pipeline_params as params

TINY = [
    "--components.tok2vec.model.embed.width",
    "32",
    "--components.tok2vec.model.embed.rows",
    "[500,100,250,250]",
    "--components.tok2vec.model.encode.width",
    "32",
    "--components.tok2vec.model.encode.depth",
    "1",
    "--components.parser.model.hidden_width",
    "16",
    "--training.dropout",
    "0.0",
    "--training.batcher.size",
    "400",
    "--training.max_epochs",
    "0",
    "--training.eval_frequency",
    "4",
]

FAIL_CODE = """
import os
from spacy.util import registry

@registry.callbacks("test.fail_on_rank1.v1")
def make():
    def before_update(nlp, info):
        if os.environ.get("RANK") == "1" and info["step"] == 3:
            raise RuntimeError("rank one gave up at step 3")
    return before_update
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from spacy_transfer.core.config import ConfigRequest
    from spacy_transfer.core.config.generate import generate_config
    from spacy_transfer.core.corpora import read_conllu, write_docbin

    root = tmp_path_factory.mktemp("dist")
    ud = DATA / "ud_english-ewt"
    write_docbin(read_conllu(ud / "en_ewt-ud-train.conllu", n_sents=2, limit=120), root / "train.spacy")
    write_docbin(read_conllu(ud / "en_ewt-ud-dev.conllu", n_sents=5, limit=40), root / "dev.spacy")
    (root / "config.cfg").write_text(generate_config(ConfigRequest(pipeline=["tagger", "parser"])))
    # The parser draws random oracle cuts per document, so only a deterministic pipeline
    # can equal one process on the combined batch exactly.
    (root / "tagger.cfg").write_text(generate_config(ConfigRequest(pipeline=["tagger"])))
    (root / "fail.py").write_text(FAIL_CODE)
    return root


def train_args(root: Path, out: Path, *extra: str, config: str = "config.cfg") -> list:
    tiny = (
        TINY
        if config == "config.cfg"
        else [a for i, a in enumerate(TINY) if "parser" not in a and "parser" not in TINY[i - 1]]
    )
    return [
        sys.executable,
        "-m",
        "spacy_transfer",
        "train",
        str(root / config),
        "--output",
        str(out),
        "--paths.train",
        str(root / "train.spacy"),
        "--paths.dev",
        str(root / "dev.spacy"),
        *tiny,
        *extra,
    ]


def run(args, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)


def assert_close(a: dict, b: dict, atol: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        numpy.testing.assert_allclose(a[key], b[key], atol=atol, err_msg=key)


def test_two_processes_equal_one_process_on_the_combined_batch(setup, tmp_path):
    two = run(
        train_args(setup, tmp_path / "two", "--nproc", "2", "--training.max_steps", "8", config="tagger.cfg")
    )
    assert two.returncode == 0, two.stdout + two.stderr
    one = run(train_args(setup, tmp_path / "one", "--training.max_steps", "8", config="tagger.cfg"))
    assert one.returncode == 0, one.stdout + one.stderr
    # Only rank 0 writes: one table, one set of outputs.
    assert two.stdout.count("Pipeline:") == 1
    assert (tmp_path / "two" / "metrics.jsonl").exists()
    assert_close(params(tmp_path / "two" / "model-last"), params(tmp_path / "one" / "model-last"), atol=2e-4)


def test_a_rank_that_raises_stops_the_run_and_is_named(setup, tmp_path):
    start = time.monotonic()
    result = run(
        train_args(
            setup,
            tmp_path / "out",
            "--nproc",
            "2",
            "--training.max_steps",
            "20",
            "--code",
            str(setup / "fail.py"),
            "--training.before_update",
            '{"@callbacks": "test.fail_on_rank1.v1"}',
        )
    )
    elapsed = time.monotonic() - start
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "rank 1" in out and "rank one gave up at step 3" in out
    assert elapsed < 120
    # The checkpoint from step 0 is intact and resumable.
    assert (tmp_path / "out" / "checkpoint").exists()


def test_killed_distributed_run_resumes_to_the_same_weights(setup, tmp_path):
    full = run(train_args(setup, tmp_path / "full", "--nproc", "2", "--training.max_steps", "12"))
    assert full.returncode == 0, full.stdout + full.stderr
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(
        train_args(setup, tmp_path / "cut", "--nproc", "2", "--training.max_steps", "12"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    # Kill everything (launcher and ranks) once the first evaluation after step 0 is saved.
    metrics = tmp_path / "cut" / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed = run(
        train_args(setup, tmp_path / "cut", "--nproc", "2", "--training.max_steps", "12", "--resume")
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Resuming" in resumed.stdout
    assert_close(params(tmp_path / "cut" / "model-last"), params(tmp_path / "full" / "model-last"), atol=1e-6)
