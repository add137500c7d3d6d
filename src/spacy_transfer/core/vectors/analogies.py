"""Word-analogy accuracy (``a : b :: c : ?``) of a vectors table, as in word2vec's
``questions-words.txt``: the answer is the word nearest to ``b - a + c`` by cosine,
excluding the three question words. Matching ignores case, using the most frequent
spelling of each word (the first row), as gensim's ``evaluate_word_analogies`` does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import numpy


@dataclass
class AnalogyResult:
    correct: int
    answered: int  # questions whose four words are all in the (restricted) vocabulary
    total: int
    vocab: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.answered if self.answered else 0.0

    @property
    def chance(self) -> float:
        """Accuracy of guessing uniformly among the candidate words."""
        return 1.0 / max(self.vocab - 3, 1)


def read_questions(path: Path) -> List[Tuple[str, str, str, str]]:
    questions = []
    for line in Path(path).read_text(encoding="utf8").splitlines():
        parts = line.split()
        if len(parts) == 4 and not line.startswith(":"):
            questions.append((parts[0], parts[1], parts[2], parts[3]))
    return questions


def analogy_accuracy(
    words: List[str],
    matrix: numpy.ndarray,
    questions: List[Tuple[str, str, str, str]],
    restrict_vocab: int = 30000,
    batch_size: int = 512,
) -> AnalogyResult:
    """Score analogies over the first ``restrict_vocab`` rows (most frequent words first)."""
    words = words[:restrict_vocab]
    unit = numpy.asarray(matrix[: len(words)], dtype=numpy.float32)
    norms = numpy.linalg.norm(unit, axis=1, keepdims=True)
    unit = unit / numpy.where(norms == 0, 1, norms)
    index: Dict[str, int] = {}
    for i, w in enumerate(words):
        index.setdefault(w.lower(), i)
    rows = [tuple(index.get(w.lower(), -1) for w in q) for q in questions]
    usable = numpy.asarray([r for r in rows if min(r) >= 0], dtype=numpy.int64).reshape(-1, 4)
    correct = 0
    for start in range(0, len(usable), batch_size):
        q = usable[start : start + batch_size]
        target = unit[q[:, 1]] - unit[q[:, 0]] + unit[q[:, 2]]
        sims = target @ unit.T
        for col in range(3):
            sims[numpy.arange(len(q)), q[:, col]] = -numpy.inf
        correct += int((sims.argmax(axis=1) == q[:, 3]).sum())
    return AnalogyResult(correct=correct, answered=len(usable), total=len(questions), vocab=len(words))


def vocab_analogy_accuracy(vocab, questions_path: Path, restrict_vocab: int = 30000) -> AnalogyResult:
    """Analogy accuracy of a spaCy vocab's vectors (default mode), rows in table order."""
    vectors = vocab.vectors
    by_row: Dict[int, str] = {}
    for key, row in vectors.key2row.items():
        if row not in by_row:
            by_row[row] = vocab.strings[key]
    order = sorted(by_row)
    words = [by_row[r] for r in order]
    matrix = vectors.data[numpy.asarray(order, dtype=numpy.int64)]
    return analogy_accuracy(words, matrix, read_questions(questions_path), restrict_vocab=restrict_vocab)
