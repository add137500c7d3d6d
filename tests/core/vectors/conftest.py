"""Small vector tables written in the test, in every format, from one set of vectors."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy
import pytest

# Realistic words, including a capitalised one, punctuation and a non-ASCII word.
WORDS: List[str] = [
    "the",
    ",",
    ".",
    "of",
    "and",
    "cat",
    "dog",
    "Paris",
    "café",
    "king",
    "queen",
    "man",
    "woman",
]
DIMS = 6


@pytest.fixture(scope="session")
def sample() -> Dict[str, numpy.ndarray]:
    rng = numpy.random.default_rng(7)
    matrix = rng.standard_normal((len(WORDS), DIMS)).astype(numpy.float32)
    return dict(zip(WORDS, matrix))


def write_text(
    path: Path, sample: Dict[str, numpy.ndarray], header: bool = True, newline: str = "\n"
) -> Path:
    """word2vec/fastText text: float32 values in their shortest exact form."""
    lines = [f"{len(sample)} {DIMS}"] if header else []
    lines += [w + " " + " ".join(str(x) for x in v) for w, v in sample.items()]
    path.write_bytes((newline.join(lines) + newline).encode("utf8"))
    return path


def keyed_vectors(sample: Dict[str, numpy.ndarray]):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(DIMS)
    kv.add_vectors(list(sample), numpy.stack(list(sample.values())))
    return kv
