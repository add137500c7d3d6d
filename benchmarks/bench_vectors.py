"""`spacy-transfer init vectors` vs `python -m spacy init vectors` on the same file.

The benchmark writes one 200,000 x 300 word2vec text file (fastText's layout: a
`rows dims` header, values with 4 decimals, realistic words: the shared raw text's
vocabulary by frequency, topped up with made-up syllable words). Each side converts it
in its own subprocess (peak RSS is that child's own); each runs twice, alternating, and
the faster run of each is kept (the file is in the page cache for both). Afterwards the
two pipelines are loaded and checked to give the same vector for every sampled word.

Run: ``python -m benchmarks.run vectors`` (or ``python benchmarks/bench_vectors.py``).
"""

from __future__ import annotations

import gzip
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import List

# Benchmark children run as scripts (python benchmarks/NAME.py --child ...): the package from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import DATA, WORK, python_cmd, row, run_measured, save_result

ROWS, DIMS = 200_000, 300
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "sa",
    "ti",
    "vo",
    "ze",
    "pa",
    "do",
    "fi",
    "gu",
    "he",
    "ja",
    "qu",
    "wy",
    "xe",
    "bo",
    "ch",
]


def realistic_words(n: int) -> List[str]:
    """Real tokens from the shared raw text by frequency, then made-up words, all distinct."""
    counts: Counter = Counter()
    for path in sorted((DATA / "raw_text").glob("*/*.gz")):
        with gzip.open(path, "rt", encoding="utf8") as f:
            for line in f:
                counts.update(line.split())
    words = [w for w, _ in counts.most_common(n)]
    seen = set(words)
    i = 0
    while len(words) < n:
        k, parts = i, []
        while True:
            parts.append(SYLLABLES[k % len(SYLLABLES)])
            k //= len(SYLLABLES)
            if k == 0:
                break
        word = "".join(parts)
        word = word.capitalize() if i % 7 == 0 else word
        if word not in seen:
            seen.add(word)
            words.append(word)
        i += 1
    return words


def write_vectors(path: Path, rows: int = ROWS, dims: int = DIMS, seed: int = 0) -> Path:
    import numpy

    if path.exists():
        return path
    words = realistic_words(rows)
    rng = numpy.random.default_rng(seed)
    tmp = path.with_suffix(".partial")
    with open(tmp, "w", encoding="utf8") as f:
        f.write(f"{rows} {dims}\n")
        for start in range(0, rows, 5000):
            block = (rng.standard_normal((min(5000, rows - start), dims)) * 0.1).astype(numpy.float32)
            lines = [" ".join(r) for r in numpy.char.mod("%.4f", block).tolist()]
            f.write("".join(f"{words[start + i]} {line}\n" for i, line in enumerate(lines)))
    tmp.replace(path)
    return path


def same_vectors(ours: Path, theirs: Path, sample: int = 2000) -> bool:
    import numpy
    import spacy

    a, b = spacy.load(ours).vocab, spacy.load(theirs).vocab
    keys = list(b.vectors.key2row)[:: max(1, len(b.vectors.key2row) // sample)]
    return len(a.vectors.key2row) == len(b.vectors.key2row) and all(
        numpy.array_equal(a.vectors[k], b.vectors[k]) for k in keys
    )


def main(repeats: int = 2) -> dict:
    WORK.mkdir(parents=True, exist_ok=True)
    src = write_vectors(WORK / f"vectors_{ROWS}x{DIMS}.vec")
    out_ours, out_base = WORK / "vectors_ours", WORK / "vectors_spacy"
    ours_cmd = python_cmd(
        "-m", "spacy_transfer", "init", "vectors", "en", str(src), str(out_ours), "--no-progress"
    )
    base_cmd = python_cmd("-m", "spacy", "init", "vectors", "en", str(src), str(out_base))
    ours, base = [], []
    for _ in range(repeats):
        for cmd, results, out in ((ours_cmd, ours, out_ours), (base_cmd, base, out_base)):
            shutil.rmtree(out, ignore_errors=True)
            results.append(run_measured(cmd))
    best_ours = min(ours, key=lambda r: r["wall_s"])
    best_base = min(base, key=lambda r: r["wall_s"])
    rss_ours = min(r["peak_rss_mib"] for r in ours)
    rss_base = min(r["peak_rss_mib"] for r in base)
    identical = same_vectors(out_ours, out_base)
    matrix_mib = ROWS * DIMS * 4 / 2**20
    rows = [
        row("wall seconds", best_ours["wall_s"], best_base["wall_s"], "<= 1.0"),
        row("peak RSS MiB", rss_ours, rss_base, "<= 1.0"),
    ]
    notes = (
        f"{ROWS:,} x {DIMS} text file ({src.stat().st_size / 2**20:.0f} MiB, float32 matrix {matrix_mib:.0f} MiB); "
        f"baseline = python -m spacy init vectors (spaCy 3.8); best of {repeats} runs each, alternating. "
        f"Same vectors for sampled words in both outputs: {identical}. All runs: ours {[r['wall_s'] for r in ours]} s, "
        f"spaCy {[r['wall_s'] for r in base]} s."
    )
    result = {"rows": rows, "notes": notes}
    save_result("vectors", result)
    for line in rows:
        print(line)
    print(notes)
    return result


if __name__ == "__main__":
    main()
