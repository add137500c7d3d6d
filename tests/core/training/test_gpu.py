"""GPU training: `--gpu-id 0` with the PyTorch allocator, a CNN pipeline and a
mixed-precision transformer pipeline, checkpoint and resume. Skipped without CUDA."""

from __future__ import annotations

import json

import pytest
import spacy
import torch

from tests.conftest import run_cli_subprocess
from tests.core.training.data import TINY_SHARED, filled_snippet, overrides_args
from tests.core.transformer.conftest import tiny_model  # noqa: F401  (fixture)

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_cnn_pipeline_trains_on_gpu_and_resumes(training_corpora, tmp_path):
    config = filled_snippet("shared.cfg", tmp_path / "config.cfg")
    base = [
        "train",
        str(config),
        "-o",
        str(tmp_path / "out"),
        "--gpu-id",
        "0",
        *overrides_args(
            {
                **TINY_SHARED,
                "paths.train": str(training_corpora.uner_train),
                "paths.dev": str(training_corpora.uner_dev),
                "training.eval_frequency": 3,
            }
        ),
    ]
    first = run_cli_subprocess([*base, "--training.max_steps", "3"])
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Device: GPU 0" in first.stdout
    second = run_cli_subprocess([*base, "--training.max_steps", "6", "--resume"])
    assert second.returncode == 0, second.stdout + second.stderr
    assert json.loads((tmp_path / "out" / "checkpoint" / "state.json").read_text())["state"]["step"] == 6
    assert spacy.load(tmp_path / "out" / "model-best").pipe_names == ["tok2vec", "ner"]


def test_mixed_precision_transformer_trains_on_gpu(
    tiny_model,  # noqa: F811
    training_corpora,
    tmp_path,
):
    config = tmp_path / "config.cfg"
    made = run_cli_subprocess(
        [
            "init",
            "config",
            str(config),
            "--pipeline",
            "tagger,ner",
            "--transformer",
            str(tiny_model("bert")),
            "--gpu",
        ]
    )
    assert made.returncode == 0, made.stderr
    result = run_cli_subprocess(
        [
            "train",
            str(config),
            "-o",
            str(tmp_path / "out"),
            "--gpu-id",
            "0",
            *overrides_args(
                {
                    "paths.train": str(training_corpora.tiny_train),
                    "paths.dev": str(training_corpora.tiny_dev),
                    "training.max_steps": 4,
                    "training.eval_frequency": 2,
                    "components.transformer.model.mixed_precision": True,
                }
            ),
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Mixed precision for" in result.stdout
    rows = [json.loads(x) for x in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert all(v == v for r in rows for v in r["losses"].values())  # no NaN losses
