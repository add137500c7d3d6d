"""The vectors table while it is built: one float32 matrix plus the word of each row.

The matrix is allocated once at its final size when the row count is known, and grown
in place (``ndarray.resize`` reallocates, which large allocations do by remapping pages,
not copying) when it is not. Duplicate words, identical rows and pruning all work in
place, so the peak memory stays close to one copy of the final matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy

from ...errors import UserError


@dataclass
class Stats:
    """What happened while reading and shrinking the table (the final report)."""

    lines: int = 0  # data entries read (lines for text formats)
    duplicates: int = 0  # words seen again later in the file; the first one is kept
    skipped: int = 0  # malformed lines skipped with --skip-bad-lines
    skipped_examples: List[Tuple[int, str]] = field(default_factory=list)
    shared_rows: int = 0  # keys whose vector equals an earlier row, now sharing it
    pruned: int = 0  # rows removed by --prune (their words map to the nearest kept row)
    prune_examples: List[Tuple[str, str, float]] = field(default_factory=list)
    truncated: bool = False
    header_rows: Optional[int] = None
    warnings: List[str] = field(default_factory=list)

    def skip(self, where: int, problem: str, examples: int = 5) -> None:
        """Count a malformed entry skipped with --skip-bad-lines; the first few go in the report."""
        self.skipped += 1
        if len(self.skipped_examples) < examples:
            self.skipped_examples.append((where, problem))


class Table:
    """Rows of vectors and their words; ``words[i]`` owns ``matrix[i]`` until compaction."""

    def __init__(self, dims: int, capacity: int) -> None:
        if dims < 1:
            raise UserError(
                "The vectors have no dimensions",
                hint="Each line needs a word followed by at least one number.",
            )
        self.dims = dims
        self.matrix = numpy.empty((max(capacity, 1), dims), dtype=numpy.float32)
        self.words: List[str] = []
        self.index: Dict[str, int] = {}
        self.key_rows: Optional[List[int]] = None  # set once several words share a row
        self.stats = Stats()

    @classmethod
    def from_arrays(cls, words: List[str], matrix: numpy.ndarray, stats: Optional[Stats] = None) -> "Table":
        """Wrap a finished matrix (gensim, NumPy readers), dropping repeated words."""
        table = cls.__new__(cls)
        table.dims = int(matrix.shape[1])
        table.matrix = matrix
        table.words, table.index, table.key_rows = [], {}, None
        table.stats = stats or Stats()
        keep = []
        for i, word in enumerate(words):
            if word in table.index:
                table.stats.duplicates += 1
                continue
            table.index[word] = len(table.words)
            table.words.append(word)
            keep.append(i)
        table.stats.lines = len(words)
        if len(keep) != len(words):
            table.compact(numpy.asarray(keep, dtype=numpy.int64))
        return table

    def __len__(self) -> int:
        return len(self.words)

    @property
    def n_rows(self) -> int:
        return self.matrix.shape[0]

    def slot(self, word: str) -> int:
        """The row to fill for ``word``, or -1 for a duplicate (first one wins)."""
        if word in self.index:
            self.stats.duplicates += 1
            return -1
        row = len(self.words)
        if row >= self.matrix.shape[0]:
            self.grow(max(row + 1, int(self.matrix.shape[0] * 1.5)))
        self.index[word] = row
        self.words.append(word)
        return row

    def grow(self, rows: int) -> None:
        self.matrix = _resized(self.matrix, rows)

    def finish_reading(self) -> None:
        """Give back the rows allocated but never filled (header said more than there were)."""
        if self.matrix.shape[0] != len(self.words):
            self.matrix = _resized(self.matrix, len(self.words))

    def compact(self, keep: numpy.ndarray) -> None:
        """Move rows ``keep`` (ascending) to the front in place, then shrink the matrix."""
        step = 4096
        for start in range(0, len(keep), step):
            # keep[j] >= j, so each chunk reads rows no earlier chunk has overwritten.
            chunk = keep[start : start + step]
            self.matrix[start : start + len(chunk)] = self.matrix[chunk]
        self.matrix = _resized(self.matrix, len(keep))

    def truncate(self, n: int) -> None:
        if n >= 1 and len(self.words) > n:
            for word in self.words[n:]:
                del self.index[word]
            del self.words[n:]
            self.matrix = _resized(self.matrix, n)
            self.stats.truncated = True

    def deduplicate(self, seed: int = 0) -> None:
        """Let words with identical vectors share one row (as spaCy does), keeping row order."""
        n = len(self.words)
        if n < 2:
            return
        # Equal rows have equal random projections; only rows that collide are compared.
        probe = numpy.random.default_rng(seed).standard_normal(self.dims)
        proj = numpy.empty(n, dtype=numpy.float64)
        step = 8192  # small chunks: the float64 copy of a chunk is temporary memory
        for start in range(0, n, step):
            proj[start : start + step] = self.matrix[start : start + step].astype(numpy.float64) @ probe
        order = numpy.argsort(proj, kind="stable")
        same = numpy.flatnonzero(proj[order[1:]] == proj[order[:-1]])
        if not len(same):
            return
        owner = numpy.arange(n)
        groups: Dict[int, List[int]] = {}
        for j in same:
            a, b = int(order[j]), int(order[j + 1])
            groups.setdefault(float(proj[a]), []).extend((a, b))  # type: ignore[arg-type]
        for rows in groups.values():
            rows = sorted(set(rows))
            firsts: List[int] = []
            for r in rows:
                for f in firsts:
                    if numpy.array_equal(self.matrix[r], self.matrix[f]):
                        owner[r] = f
                        break
                else:
                    firsts.append(r)
        keep = numpy.flatnonzero(owner == numpy.arange(n))
        if len(keep) == n:
            return
        new_index = numpy.full(n, -1, dtype=numpy.int64)
        new_index[keep] = numpy.arange(len(keep))
        self.key_rows = new_index[owner].tolist()
        self.stats.shared_rows = n - len(keep)
        self.compact(keep)

    def rows_of_words(self) -> List[int]:
        return self.key_rows if self.key_rows is not None else list(range(len(self.words)))

    def prune(self, n_rows: int, batch_size: int = 1024) -> None:
        """Keep the first ``n_rows`` rows (most frequent first in vector files) and map every
        other word to its nearest kept row by cosine, as ``Vocab.prune_vectors`` does."""
        total = self.matrix.shape[0]
        if n_rows < 1 or n_rows >= total:
            return
        keep = self.matrix[:n_rows]
        norms = numpy.linalg.norm(keep, axis=1, keepdims=True)
        keep_unit = keep / numpy.where(norms == 0, 1, norms)
        best = numpy.empty(total - n_rows, dtype=numpy.int64)
        score = numpy.empty(total - n_rows, dtype=numpy.float32)
        for start in range(n_rows, total, batch_size):
            batch = self.matrix[start : start + batch_size]
            bnorm = numpy.linalg.norm(batch, axis=1, keepdims=True)
            sims = (batch / numpy.where(bnorm == 0, 1, bnorm)) @ keep_unit.T
            best[start - n_rows : start - n_rows + len(batch)] = sims.argmax(axis=1)
            score[start - n_rows : start - n_rows + len(batch)] = sims.max(axis=1)
        del keep, keep_unit, batch  # no views may outlive the in-place resize below
        rows = self.rows_of_words()
        first_word = {}
        for i, r in enumerate(rows):
            first_word.setdefault(r, i)
        for i, r in enumerate(rows):
            if r >= n_rows:
                rows[i] = int(best[r - n_rows])
                if len(self.stats.prune_examples) < 5:
                    kept_word = self.words[first_word[rows[i]]]
                    self.stats.prune_examples.append(
                        (self.words[i], kept_word, round(float(score[r - n_rows]), 3))
                    )
        self.key_rows = rows
        self.stats.pruned = total - n_rows
        self.matrix = _resized(self.matrix, n_rows)


def _resized(matrix: numpy.ndarray, rows: int) -> numpy.ndarray:
    """``matrix`` with ``rows`` rows, reallocated in place when it owns its memory."""
    rows = max(rows, 0)
    if matrix.base is None and matrix.flags.c_contiguous and matrix.flags.writeable:
        matrix.resize((rows, matrix.shape[1]), refcheck=False)
        return matrix
    out = numpy.empty((rows, matrix.shape[1]), dtype=numpy.float32)
    n = min(rows, matrix.shape[0])
    out[:n] = matrix[:n]
    return out
