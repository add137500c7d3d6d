"""Train a vectors table on the user's raw text and convert it in the same step.

The text is tokenized once with the spaCy tokenizer of the pipeline's language (so the
vectors' words are exactly the tokens spaCy will look up), written to a temporary file
with one text per line, and handed to gensim (word2vec, fastText) or floret, which read
that file with all their worker threads.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import numpy

from ...errors import UserError
from .build import blank_nlp, check_options, check_output_dir, finish
from .sources import open_source
from .table import Table
from .text import read_text

ALGORITHMS = ("word2vec", "fasttext", "floret")
ARCHS = ("cbow", "skipgram")
RAW_SUFFIXES = (".txt", ".jsonl", ".txt.gz", ".jsonl.gz", ".gz")


@dataclass
class TrainSettings:
    algorithm: str = "word2vec"
    arch: str = "cbow"
    dims: int = 100
    epochs: int = 5
    min_count: int = 5
    window: int = 5
    bucket: int = 50000  # floret: rows of the hashed subword table
    workers: int = 0  # 0: one per CPU core
    seed: int = 0
    minn: int = 3  # fastText/floret character n-grams
    maxn: int = 5
    hash_count: int = 2  # floret: rows each n-gram is hashed into

    def check(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise UserError(
                f"Unknown --algorithm '{self.algorithm}'", hint=f"Use one of: {', '.join(ALGORITHMS)}."
            )
        if self.arch not in ARCHS:
            raise UserError(f"Unknown --arch '{self.arch}'", hint=f"Use one of: {', '.join(ARCHS)}.")
        for name in ("dims", "epochs", "min_count", "window", "bucket"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(self, name)}")

    @property
    def n_workers(self) -> int:
        return self.workers if self.workers >= 1 else max(1, os.cpu_count() or 1)


def raw_text_files(path: Path) -> List[Path]:
    """The raw text files at ``path``: the file itself, or every text file under a folder."""
    path = Path(path)
    if not path.exists():
        raise UserError(
            f"Raw text not found: {path}", hint="Give a .txt, .jsonl or .gz file, or a folder of them."
        )
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(RAW_SUFFIXES))
    if not files:
        raise UserError(
            f"{path} holds no .txt, .jsonl or .gz files", hint="Give a file, or a folder with raw text files."
        )
    return files


def iter_texts(files: List[Path]) -> Iterator[str]:
    from ..corpora import iter_raw_texts

    for f in files:
        yield from iter_raw_texts(f)


def write_tokens(nlp, files: List[Path], out: Path, attr: str = "ORTH") -> Tuple[int, int]:
    """Tokenize every text and write one line of space-separated tokens per text."""
    n_texts = n_tokens = 0
    getter = {"ORTH": lambda t: t.text, "LOWER": lambda t: t.lower_, "NORM": lambda t: t.norm_}[attr.upper()]
    with open(out, "w", encoding="utf8") as f:
        for doc in nlp.tokenizer.pipe(iter_texts(files), batch_size=1000):
            tokens = [getter(t) for t in doc if not t.is_space]
            # A token never contains a space, but a few contain other whitespace (e.g. U+2028).
            tokens = ["_".join(t.split()) for t in tokens if t.strip()]
            if tokens:
                f.write(" ".join(tokens))
                f.write("\n")
                n_texts += 1
                n_tokens += len(tokens)
    if n_tokens == 0:
        raise UserError(
            "The raw text holds no tokens",
            rows=[(str(p), "empty") for p in files[:5]],
            hint='Give UTF-8 text: one document per line (.txt) or {"text": ...} per line (.jsonl).',
        )
    return n_texts, n_tokens


def train_gensim(corpus: Path, settings: TrainSettings) -> Table:
    try:
        from gensim.models import FastText, Word2Vec
    except ImportError:
        raise UserError(
            "Training vectors needs gensim, which is not installed",
            hint="Install the optional extra: pip install 'spacy-transfer[vectors]' (or pip install gensim).",
        ) from None
    common = dict(
        corpus_file=str(corpus),
        vector_size=settings.dims,
        window=settings.window,
        min_count=settings.min_count,
        workers=settings.n_workers,
        sg=int(settings.arch == "skipgram"),
        epochs=settings.epochs,
        seed=settings.seed,
    )
    try:
        if settings.algorithm == "fasttext":
            model = FastText(min_n=settings.minn, max_n=settings.maxn, **common)
        else:
            model = Word2Vec(**common)
    except RuntimeError as e:
        if "vocabulary" not in str(e):
            raise
        model = None  # gensim found no word frequent enough to build a vocabulary
    if model is None or len(model.wv.index_to_key) == 0:
        raise UserError(
            f"No word occurs {settings.min_count} times or more in the raw text",
            hint="Lower --min-count or give more text.",
        )
    kv = model.wv
    # The full-word vectors (for fastText they include the subword n-grams).
    matrix = numpy.array(kv.vectors, dtype=numpy.float32, order="C")  # ours to shrink in place
    return Table.from_arrays([str(w) for w in kv.index_to_key], matrix)


def train_floret(corpus: Path, settings: TrainSettings, workdir: Path) -> Tuple[Table, Dict[str, object]]:
    try:
        import floret
    except ImportError:
        raise UserError(
            "--algorithm floret needs the floret package, which is not installed",
            hint="pip install floret (or pip install 'spacy-transfer[vectors]').",
        ) from None
    try:
        model = floret.train_unsupervised(
            str(corpus),
            model=settings.arch,
            mode="floret",
            dim=settings.dims,
            epoch=settings.epochs,
            minCount=settings.min_count,
            ws=settings.window,
            bucket=settings.bucket,
            minn=settings.minn,
            maxn=settings.maxn,
            hashCount=settings.hash_count,
            thread=settings.n_workers,
            verbose=0,
        )
    except ValueError as e:
        if "Empty vocabulary" not in str(e):
            raise
        raise UserError(
            f"No word occurs {settings.min_count} times or more in the raw text",
            hint="Lower --min-count or give more text.",
        ) from None
    out = workdir / "vectors.floret"
    model.save_floret_vectors(str(out))
    del model
    with open_source(out) as source:
        return read_text(source, mode="floret")


def train_and_convert(
    lang: str,
    raw: Path,
    output_dir: Optional[Path],
    settings: TrainSettings,
    *,
    prune: int = -1,
    name: Optional[str] = None,
    attr: str = "ORTH",
    progress: bool = False,
):
    """Tokenize ``raw``, train vectors, build and save the pipeline.

    Returns ``(nlp, report, training rows for the report table)``.
    """
    settings.check()
    mode = "floret" if settings.algorithm == "floret" else "default"
    check_options(mode=mode, attr=attr, prune=prune, truncate=0, fmt="auto")
    if output_dir is not None:
        check_output_dir(output_dir)
    files = raw_text_files(raw)
    nlp = blank_nlp(lang)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="spacy-transfer-vectors-") as tmp:
        corpus = Path(tmp) / "tokens.txt"
        if progress:
            print(f"Tokenizing {len(files)} file(s) with the '{lang}' tokenizer", file=sys.stderr)
        n_texts, n_tokens = write_tokens(nlp, files, corpus, attr)
        tokenized = time.perf_counter()
        if settings.algorithm == "floret":
            table, floret_settings = train_floret(corpus, settings, Path(tmp))
        else:
            table, floret_settings = train_gensim(corpus, settings), {}
        trained = time.perf_counter()
    nlp, report = finish(
        lang,
        table,
        settings.algorithm,
        floret_settings,
        output_dir,
        source=str(raw),
        mode=mode,
        prune=prune,
        truncate=0,
        name=name,
        attr=attr,
        start=start,
    )
    rows = [
        ("raw text", f"{len(files)} file(s), {n_texts:,} texts, {n_tokens:,} tokens"),
        (
            "algorithm",
            f"{settings.algorithm} ({settings.arch}), {settings.dims} dims, {settings.epochs} epochs, window {settings.window}, min count {settings.min_count}",
        ),
        ("tokenizing seconds", f"{tokenized - start:.1f}"),
        ("training seconds", f"{trained - tokenized:.1f}"),
    ]
    return nlp, report, rows
