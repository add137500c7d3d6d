"""`spacy-transfer pretrain --nproc 2`: data-parallel pretraining on 2 CPU processes (gloo, loopback).

Every run saves after every batch (`n_save_every 1`), and every save compares the ranks'
weight checksums, so a run that finishes had identical weights on both ranks after every step.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy
import pytest
from safetensors.numpy import load_file

from spacy_transfer.core.pretraining.state_file import find_state

from ..conftest import REPO
from ..core.pretraining.conftest import TINY_CONFIG, wikitext_paragraphs

# Test objectives and batchers, loaded with --code in the worker processes.
CODE = '''
import os, time
from pathlib import Path
from spacy.util import registry

def _characters(vocab, tok2vec, misbehave):
    model = registry.architectures.get("spacy.PretrainCharacters.v1")(maxout_pieces=2, hidden_size=32, n_characters=2)(vocab, tok2vec)
    loss = model.attrs["loss"]
    calls = {"n": 0}

    def watched_loss(ops, docs, prediction):
        calls["n"] += 1
        if os.environ.get("RANK") == "1" and calls["n"] == 3:
            misbehave(model)
        return loss(ops, docs, prediction)

    model.attrs["loss"] = watched_loss
    return model

@registry.architectures("test.failing_characters.v1")
def failing():
    def fail(model):
        raise RuntimeError("rank one gave up at step 3")
    return lambda vocab, tok2vec: _characters(vocab, tok2vec, fail)

@registry.architectures("test.drifting_characters.v1")
def drifting():
    def drift(model):  # rank 1 alone changes a weight: the ranks are no longer in lockstep
        node = next(n for n in model.walk() if n.has_param("W"))
        node.set_param("W", node.get_param("W") + 0.01)
    return lambda vocab, tok2vec: _characters(vocab, tok2vec, drift)

@registry.batchers("test.stalling_batch_by_words.v1")
def stalling(size: int, stall_after: int, marker: str):
    """spaCy's batch_by_words, hanging (as a stuck job would) after `stall_after` batches in all."""
    batch_by_words = registry.batchers.get("spacy.batch_by_words.v1")(size=size, discard_oversize=False, tolerance=0.2)
    seen = {"n": 0}

    def batch(items):
        for b in batch_by_words(items):
            if seen["n"] == stall_after:
                if os.environ.get("RANK") == "0":
                    Path(marker).write_text("stalled")
                while True:
                    time.sleep(1)
            seen["n"] += 1
            yield b

    return batch
'''


@pytest.fixture(scope="module")
def files(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("pretrain_dist")
    (root / "config.cfg").write_text(TINY_CONFIG, encoding="utf8")
    (root / "text.jsonl").write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in wikitext_paragraphs(60)), encoding="utf8"
    )
    (root / "code.py").write_text(CODE, encoding="utf8")
    return root


def pretrain_args(files: Path, out: Path, *extra: str) -> list:
    return [
        sys.executable,
        "-m",
        "spacy_transfer",
        "pretrain",
        str(files / "config.cfg"),
        str(out),
        "--paths.raw_text",
        str(files / "text.jsonl"),
        "--pretraining.n_save_every",
        "1",
        *extra,
    ]


ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}


def run(args, timeout=180):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=ENV)


def params(out: Path, name: str = "model-last") -> dict:
    """The whole pretraining network (layer + output head) as saved in the resume state."""
    return {
        k: v for k, v in load_file(str(out / f"{name}.state.safetensors")).items() if k.startswith("param/")
    }


def test_two_processes_equal_one_process_on_the_combined_batch(files, tmp_path):
    two = run(pretrain_args(files, tmp_path / "two", "--pretraining.dropout", "0", "--nproc", "2"))
    assert two.returncode == 0, two.stdout + two.stderr
    one = run(pretrain_args(files, tmp_path / "one", "--pretraining.dropout", "0"))
    assert one.returncode == 0, one.stdout + one.stderr
    # Rank 0 alone prints and logs: one table, one log line per save.
    assert two.stdout.count("Pre-training tok2vec layer") == 1
    assert "Using 2 processes (gloo)" in two.stdout
    log_two = [json.loads(line) for line in (tmp_path / "two" / "log.jsonl").read_text().splitlines()]
    log_one = [json.loads(line) for line in (tmp_path / "one" / "log.jsonl").read_text().splitlines()]
    assert len(log_two) == len(log_one) > 20  # a checkpoint (and a cross-rank check) after every batch
    # Same words and losses: the ranks' shards together are the batch, losses combined as one process has them.
    assert [r["nr_word"] for r in log_two] == [r["nr_word"] for r in log_one]
    # The logged loss is a running float32 sum: summation order differs between one process
    # and two shards, so the difference grows with the steps (2e-5 relative after 45 seen).
    numpy.testing.assert_allclose([r["loss"] for r in log_two], [r["loss"] for r in log_one], rtol=1e-4)
    a, b = params(tmp_path / "two"), params(tmp_path / "one")
    assert a.keys() == b.keys()
    # Adam divides by the root of the second moment, so a float32 reordering in a near-zero
    # gradient (rare hash-embedding rows) can move a weight by a few learning-rate steps
    # (1e-3 each); a wrong reduction (a plain sum of shard means, a missing shard) moves
    # every weight, which the mean difference catches.
    for key in a:
        numpy.testing.assert_allclose(a[key], b[key], atol=1e-2, err_msg=key)
        assert float(numpy.abs(a[key] - b[key]).mean()) < 1e-3, key


def test_ranks_that_drift_apart_are_caught_at_the_next_save(files, tmp_path):
    result = run(
        pretrain_args(
            files,
            tmp_path / "out",
            "--nproc",
            "2",
            "--code",
            str(files / "code.py"),
            "--pretraining.objective",
            '{"@architectures": "test.drifting_characters.v1"}',
        )
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "weights differ" in out and "rank 0" in out and "rank 1" in out, out


def test_a_rank_that_raises_stops_the_run_and_is_named(files, tmp_path):
    start = time.monotonic()
    result = run(
        pretrain_args(
            files,
            tmp_path / "out",
            "--nproc",
            "2",
            "--code",
            str(files / "code.py"),
            "--pretraining.objective",
            '{"@architectures": "test.failing_characters.v1"}',
        )
    )
    elapsed = time.monotonic() - start
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "rank 1" in out and "rank one gave up at step 3" in out, out
    assert elapsed < 60
    # The checkpoint after step 2 is intact, with its resume state.
    assert (tmp_path / "out" / "model0.temp.bin").exists() and find_state(
        tmp_path / "out" / "model0.temp.bin"
    ) is not None


def test_killed_distributed_run_resumes_to_the_same_weights(files, tmp_path):
    """SIGKILL the launcher and both ranks mid-epoch; --resume-path gives what an uninterrupted run gives.

    With dropout on, this also checks that rank 1's own dropout stream is re-derived on resume.
    """
    full = run(pretrain_args(files, tmp_path / "full", "--nproc", "2"))
    assert full.returncode == 0, full.stdout + full.stderr
    marker = tmp_path / "stalled"
    stall = json.dumps(
        {
            "@batchers": "test.stalling_batch_by_words.v1",
            "size": 500,
            "stall_after": 22,
            "marker": str(marker),
        }
    )
    proc = subprocess.Popen(
        pretrain_args(
            files,
            tmp_path / "cut",
            "--nproc",
            "2",
            "--code",
            str(files / "code.py"),
            "--pretraining.batcher",
            stall,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    # The workers live in sessions of their own (torchrun's doing) but die with their
    # launcher: their end of the output pipe closes within seconds.
    output = proc.communicate(timeout=30)[0]
    assert marker.exists(), output
    assert not (tmp_path / "cut" / "model-last.bin").exists()  # killed, not finished
    resumed = run(
        pretrain_args(
            files,
            tmp_path / "cut",
            "--nproc",
            "2",
            "--resume-path",
            str(tmp_path / "cut" / "model1.temp.bin"),
        )
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Resuming exactly from model1.temp.bin: epoch 1, after" in resumed.stdout
    a, b = params(tmp_path / "cut"), params(tmp_path / "full")
    for key in a:
        numpy.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert (tmp_path / "cut" / "model-last.bin").read_bytes() == (
        tmp_path / "full" / "model-last.bin"
    ).read_bytes()


@pytest.mark.gpu
def test_nccl_world_of_one_pretrains_on_the_gpu(files, tmp_path):
    """The GPU smoke test: the unchanged command under torchrun, one rank, NCCL, GPU 0."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    out = tmp_path / "out"
    result = run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node=1",
            *pretrain_args(files, out, "--gpu-id", "0", "--pretraining.max_epochs", "1")[1:],
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 process (nccl), one GPU each" in result.stdout
    assert (out / "model0.bin").exists() and (out / "model-last.state.safetensors").exists()
