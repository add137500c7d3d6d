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


def run_cli_subprocess(args: List[str], input: Optional[str] = None, cwd: Optional[Path] = None, env: Optional[dict] = None, timeout: int = 600):
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
