"""Do vectors trained by `init vectors --train` carry meaning, and do they help a model?

1. Train word2vec (CBOW, 100 dims, 5 epochs, min count 5) on all of the shared raw text
   (``raw_text/*/*.gz``, ~3.8 M spaCy tokens) with ``spacy-transfer init vectors en
   --train``, and score the word2vec analogy questions (``questions-words.txt``) over the
   30,000 most frequent words, ignoring case: accuracy vs chance (1 / candidates).
2. Train a tagger + parser (``spacy-transfer init config --pipeline tagger,parser``,
   CNN tok2vec) on the first 2,000 sentences of UD English-EWT train, twice with the same
   seed and settings: without vectors, and with ``include_static_vectors = true`` and
   those vectors. Both are scored on the full EWT dev set (2,001 sentences).

Run: ``python -m benchmarks.run vectors_accuracy`` (or ``python benchmarks/bench_vectors_accuracy.py``).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

# Benchmark children run as scripts (python benchmarks/NAME.py --child ...): the package from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import DATA, WORK, python_cmd, ratio, row, run_measured, save_result

TRAIN_SENTS = 2000
EPOCHS = 12


def cli(*args: str) -> dict:
    return run_measured(python_cmd("-m", "spacy_transfer", *args))


def train_vectors(out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    return cli(
        "init",
        "vectors",
        "en",
        "--train",
        str(DATA / "raw_text"),
        str(out),
        "--dims",
        "100",
        "--epochs",
        "5",
        "--min-count",
        "5",
        "--no-progress",
    )


def analogies(vectors: Path):
    import spacy

    from spacy_transfer.core.vectors.analogies import vocab_analogy_accuracy

    return vocab_analogy_accuracy(
        spacy.load(vectors).vocab, DATA / "word2vec_analogy" / "questions-words.txt"
    )


def corpora(root: Path) -> tuple:
    from spacy_transfer.core.corpora import read_conllu, write_docbin

    ud = DATA / "ud_english-ewt"
    train = write_docbin(
        read_conllu(ud / "en_ewt-ud-train.conllu", n_sents=10, limit=TRAIN_SENTS), root / "train.spacy"
    )
    dev = write_docbin(read_conllu(ud / "en_ewt-ud-dev.conllu", n_sents=10), root / "dev.spacy")
    return train, dev


def train_pipeline(config: Path, out: Path, train: Path, dev: Path, vectors: Path = None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    args = [
        "train",
        str(config),
        "--output",
        str(out),
        "--paths.train",
        str(train),
        "--paths.dev",
        str(dev),
        "--training.max_epochs",
        str(EPOCHS),
        "--training.max_steps",
        "0",
        "--training.patience",
        "0",
        "--training.eval_frequency",
        "100",
    ]
    if vectors is not None:
        args += [
            "--paths.vectors",
            str(vectors),
            "--components.tok2vec.model.embed.include_static_vectors",
            "true",
        ]
    run = cli(*args)
    perf = json.loads((out / "model-best" / "meta.json").read_text())["performance"]
    return {
        "tag_acc": round(perf["tag_acc"], 4),
        "dep_uas": round(perf["dep_uas"], 4),
        "dep_las": round(perf["dep_las"], 4),
        "wall_s": run["wall_s"],
    }


def main() -> dict:
    root = WORK / "vectors_accuracy"
    root.mkdir(parents=True, exist_ok=True)
    vectors = root / "raw_text_vectors"
    trained = train_vectors(vectors)
    result = analogies(vectors)
    train, dev = corpora(root)
    config = root / "config.cfg"
    cli("init", "config", str(config), "--lang", "en", "--pipeline", "tagger,parser", "--force")
    without = train_pipeline(config, root / "without", train, dev)
    with_vectors = train_pipeline(config, root / "with", train, dev, vectors)
    rows = [
        {
            "metric": "analogy accuracy (ours) vs chance (baseline)",
            "ours": round(result.accuracy, 4),
            "baseline": round(result.chance, 6),
            "ratio": ratio(result.accuracy, result.chance),
            "target": "> 1 (clearly above chance)",
        },
    ]
    for metric in ("tag_acc", "dep_uas", "dep_las"):
        rows.append(
            row(
                f"EWT dev {metric}: with vectors (ours) vs without (baseline)",
                with_vectors[metric],
                without[metric],
                "> 1.0",
            )
        )
    notes = (
        f"Vectors: word2vec CBOW 100d trained on all shared raw text in {trained['wall_s']} s; analogies: "
        f"{result.correct}/{result.answered} answered questions correct ({result.answered} of {result.total} have all "
        f"four words among the {result.vocab:,} most frequent). Tagger+parser: first {TRAIN_SENTS} EWT train sentences, "
        f"{EPOCHS} epochs, same seed; dev = full EWT dev; training took {without['wall_s']} s without and "
        f"{with_vectors['wall_s']} s with vectors."
    )
    out = {"rows": rows, "notes": notes}
    save_result("vectors_accuracy", out)
    for line in rows:
        print(line)
    print(notes)
    return out


if __name__ == "__main__":
    main()
