"""A small real teacher (trained here for a few steps), a student config and raw text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.core.training.data import TINY_SHARED, overrides_args


@dataclass
class Setup:
    teacher: Path
    student: Path
    raw: Path
    train: Path
    dev: Path


def raw_texts(data: Path, n: int) -> list:
    from spacy_transfer.core.corpora import iter_raw_texts

    texts = []
    for text in iter_raw_texts(data / "raw_text/nltk_gutenberg/austen-emma.txt.gz", min_chars=30):
        texts.append(text)
        if len(texts) >= n:
            break
    return texts


SPANS_OF_1_OR_2 = {"suggester": {"@misc": "spacy.ngram_suggester.v1", "sizes": [1, 2]}}  # candidates


def name_examples(nlp, key: str, n: int = 40) -> list:
    """Sentences of names and verbs, the names (capitalised words) as PER spans under ``key``."""
    import random

    from spacy.training import Example

    names, words = (
        ["Emma", "Harriet", "Mr Knightley", "Jane Fairfax"],
        ["saw", "met", "and", "walked", "with"],
    )
    rng, examples = random.Random(0), []
    for _ in range(n):
        a, b = rng.sample(names, 2)
        text = f"{a} {rng.choice(words)} {b}"
        ref = nlp.make_doc(text)
        ref.spans[key] = [ref.char_span(text.index(m), text.index(m) + len(m), label="PER") for m in (a, b)]
        examples.append(Example(nlp.make_doc(text), ref))
    return examples


def trained_spancat(factory: str, path: Path) -> Path:
    """A spancat teacher (candidates: 1- and 2-token spans) trained here for a few steps."""
    import spacy

    nlp = spacy.blank("en")
    spancat = nlp.add_pipe(factory, config=SPANS_OF_1_OR_2)
    examples = name_examples(nlp, spancat.key)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(15):
        nlp.update(examples, sgd=optimizer)
    nlp.to_disk(path)
    return path


def write_raw(path: Path, texts: list) -> Path:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf8")
    return path


@pytest.fixture(scope="session")
def distill_setup(tmp_path_factory, training_corpora, shared_data) -> Setup:
    root = tmp_path_factory.mktemp("distill")
    tiny = overrides_args(TINY_SHARED)
    for name in ("teacher", "student"):
        result = run_cli(
            "init", "config", str(root / f"{name}.cfg"), "--pipeline", "tagger,parser,ner", "--force"
        )
        assert result.exit_code == 0, result.output
    result = run_cli(
        "train", str(root / "teacher.cfg"), "--output", str(root / "teacher"),
        "--paths.train", str(training_corpora.mixed_train), "--paths.dev", str(training_corpora.mixed_dev),
        "--training.max_steps", "20", "--training.eval_frequency", "10", *tiny,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    raw = write_raw(root / "raw.jsonl", raw_texts(shared_data, 120))
    return Setup(
        root / "teacher" / "model-best",
        root / "student.cfg",
        raw,
        training_corpora.mixed_train,
        training_corpora.mixed_dev,
    )
