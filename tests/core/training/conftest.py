"""Configs for the training tests: spec snippets filled with defaults, tiny widths."""

from __future__ import annotations

from pathlib import Path

import pytest

from .data import filled_snippet

RESUME_EXTRA = """
[training.batcher.size]
@schedules = "compounding.v1"
start = 100
stop = 1000
compound = 1.1

[training.optimizer.learn_rate]
@schedules = "warmup_linear.v1"
warmup_steps = 5
total_steps = 40
initial_rate = 0.005

[training.before_update]
@callbacks = "spacy-transfer-test.signal_at_step.v1"
"""


@pytest.fixture(scope="session")
def shared_config(tmp_path_factory) -> Path:
    return filled_snippet("shared.cfg", tmp_path_factory.mktemp("cfg") / "shared.cfg")


@pytest.fixture(scope="session")
def resume_config(tmp_path_factory) -> Path:
    """shared.cfg with stateful pieces a resume must restore: a batch-size schedule that
    runs across epochs, a learn-rate schedule, and the test's kill switch."""
    from spacy_transfer.core.config import load_config

    path = tmp_path_factory.mktemp("cfg") / "resume.cfg"
    base = filled_snippet("shared.cfg", path)
    config = load_config(base)
    config["training"]["batcher"].pop("size", None)
    config["training"]["optimizer"].pop("learn_rate", None)
    config["training"]["before_update"] = None
    text = config.to_str().replace("before_update = null\n", "")
    path.write_text(text + RESUME_EXTRA, encoding="utf8")
    return path
