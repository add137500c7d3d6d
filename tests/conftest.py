"""Shared fixtures: the shared corpora, a CLI runner, small spec configs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPACY_TRANSFER_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not DATA.exists():
        pytest.fail(f"shared data not found at {DATA}; set SPACY_TRANSFER_SHARED")
    return DATA


def run_cli(*args: str, input: Optional[str] = None, env: Optional[dict] = None):
    """Run the CLI in-process (fast); returns click's Result (exit_code, output, stdout)."""
    from spacy_transfer.cli import app

    return CliRunner().invoke(app, list(args), input=input, env=env, catch_exceptions=False)


def run_cli_subprocess(
    args: List[str],
    input: Optional[str] = None,
    cwd: Optional[Path] = None,
    env: Optional[dict] = None,
    timeout: int = 600,
):
    """Run ``python -m spacy_transfer`` in a fresh interpreter (as a user would)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "spacy_transfer", *args],
        input=input,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def training_corpora(tmp_path_factory, shared_data):
    """Small UD EWT / UNER slices as .spacy files (see tests/core/training/data.py)."""
    from tests.core.training.data import make_corpora

    return make_corpora(tmp_path_factory.mktemp("training_corpora"), shared_data)


def pipeline_params(path) -> dict:
    """Every weight of a saved pipeline, thinc and torch, by component/node/name (copies)."""
    import numpy
    import spacy

    nlp = spacy.load(path)
    out = {}
    for name, proc in nlp.pipeline:
        for i, node in enumerate(proc.model.walk()):
            for p in node.param_names:
                if node.has_param(p):
                    out[f"{name}/{i}/{node.name}/{p}"] = numpy.asarray(node.get_param(p)).copy()
            for j, shim in enumerate(node.shims):
                module = getattr(shim, "_model", None)
                if hasattr(module, "named_parameters"):
                    for pname, tensor in module.named_parameters():
                        out[f"{name}/{i}/shim{j}/{pname}"] = tensor.detach().cpu().numpy().copy()
    return out
