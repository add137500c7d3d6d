"""``spacy-transfer init vectors``: convert word vectors (or train them from raw text)
into a spaCy pipeline folder usable as ``[initialize] vectors``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from wasabi import msg

from ..errors import UserError
from ._app import init_app
from ._util import VerboseOpt, handle_errors

if TYPE_CHECKING:
    from ..core.vectors.build import Report
    from ..core.vectors.trainer import TrainSettings

EPILOG = """Examples:

  spacy-transfer init vectors en cc.en.300.vec.gz ./vectors

  spacy-transfer init vectors en glove.6B.100d.zip ./vectors --prune 20000

  spacy-transfer init vectors en GoogleNews-vectors-negative300.bin.gz ./vectors --truncate 100000

  spacy-transfer init vectors en model.kv ./vectors                 (gensim KeyedVectors/Word2Vec/FastText)

  spacy-transfer init vectors en matrix.npy ./vectors --words words.txt

  spacy-transfer init vectors en vectors.floret ./vectors --mode floret

  spacy-transfer init vectors en --train corpus.jsonl.gz ./vectors --algorithm fasttext --dims 100

Formats are detected from the file's content; --format names one explicitly.
"""


def _progress_enabled(flag: Optional[bool]) -> bool:
    return sys.stderr.isatty() if flag is None else flag


# Declared here to keep the command's signature short.
PruneOpt = typer.Option(
    -1, "--prune", "-p", help="Keep N rows; other words map to their nearest kept vector."
)
TruncateOpt = typer.Option(0, "--truncate", "-t", help="Read only the first N vectors of the file.")
ModeOpt = typer.Option("default", "--mode", "-m", help="Vectors mode: default or floret.")
NameOpt = typer.Option(None, "--name", "-n", help="Name of the vectors table, e.g. en_example.vectors.")
AttrOpt = typer.Option("ORTH", "--attr", "-a", help="Token attribute the keys match: ORTH, LOWER or NORM.")
FormatOpt = typer.Option(
    "auto", "--format", "-f", help="auto, text, word2vec-bin, fasttext-bin, gensim, npy, npz or floret."
)
WordsOpt = typer.Option(None, "--words", help="Word list (one per line) for .npy/.npz matrices.")
SkipBadLinesOpt = typer.Option(
    False, "--skip-bad-lines", help="Skip malformed lines (counted in the report) instead of failing."
)
ProgressOpt = typer.Option(
    None, "--progress/--no-progress", help="Progress bar on stderr (default: when stderr is a terminal)."
)
TrainOpt = typer.Option(
    None, "--train", help="Raw text (.txt, .jsonl, .gz, or a folder of them) to train vectors on."
)
# The options that only matter with --train.
AlgorithmOpt = typer.Option("word2vec", "--algorithm", help="With --train: word2vec, fasttext or floret.")
ArchOpt = typer.Option("cbow", "--arch", help="With --train: cbow or skipgram.")
DimsOpt = typer.Option(100, "--dims", help="With --train: vector width.")
EpochsOpt = typer.Option(5, "--epochs", help="With --train: passes over the text.")
MinCountOpt = typer.Option(5, "--min-count", help="With --train: ignore words rarer than this.")
WindowOpt = typer.Option(5, "--window", help="With --train: context window size.")
BucketOpt = typer.Option(50000, "--bucket", help="With --algorithm floret: rows of the hashed table.")
WorkersOpt = typer.Option(0, "--workers", help="With --train: worker threads (0: one per CPU core).")
SeedOpt = typer.Option(0, "--seed", help="With --train: random seed.")


@init_app.command("vectors", epilog=EPILOG)
def init_vectors_cli(
    lang: str = typer.Argument(..., help="Language code of the blank pipeline (e.g. en)."),
    vectors_file: Optional[Path] = typer.Argument(
        None, metavar="VECTORS", help="Vectors file (with --train: the output folder)."
    ),
    output_dir: Optional[Path] = typer.Argument(None, help="Pipeline folder to write."),
    prune: int = PruneOpt,
    truncate: int = TruncateOpt,
    mode: str = ModeOpt,
    name: Optional[str] = NameOpt,
    attr: str = AttrOpt,
    fmt: str = FormatOpt,
    words: Optional[Path] = WordsOpt,
    skip_bad_lines: bool = SkipBadLinesOpt,
    progress: Optional[bool] = ProgressOpt,
    train: Optional[Path] = TrainOpt,
    algorithm: str = AlgorithmOpt,
    arch: str = ArchOpt,
    dims: int = DimsOpt,
    epochs: int = EpochsOpt,
    min_count: int = MinCountOpt,
    window: int = WindowOpt,
    bucket: int = BucketOpt,
    workers: int = WorkersOpt,
    seed: int = SeedOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Convert word vectors into a spaCy pipeline folder, or train them from raw text.

    The folder loads with spacy.load() and can be used as [initialize] vectors in a config."""
    with handle_errors(verbose):
        show = _progress_enabled(progress)
        if train is not None:
            from ..core.vectors.trainer import TrainSettings

            output = _train_output_dir(vectors_file, output_dir)
            settings = TrainSettings(
                algorithm=algorithm, arch=arch, dims=dims, epochs=epochs, min_count=min_count,
                window=window, bucket=bucket, workers=workers, seed=seed,
            )  # fmt: skip
            report = _train(lang, train, output, settings, prune=prune, name=name, attr=attr, progress=show)
        else:
            if vectors_file is None or output_dir is None:
                raise UserError(
                    "Give LANG, VECTORS and OUTPUT_DIR (or LANG --train TEXT OUTPUT_DIR)",
                    hint="spacy-transfer init vectors en vectors.vec ./vectors",
                )
            from ..core.vectors import convert_vectors

            output = output_dir
            _, report = convert_vectors(
                lang, vectors_file, output, fmt=fmt, mode=mode, prune=prune, truncate=truncate, name=name,
                attr=attr, skip_bad_lines=skip_bad_lines, words=words, progress=show,
            )  # fmt: skip
        _print_report(report, output)


def _train_output_dir(first: Optional[Path], second: Optional[Path]) -> Path:
    """With --train there is no vectors file: the one positional path after LANG is the output."""
    if second is not None:
        raise UserError(
            "With --train, give only LANG and OUTPUT_DIR",
            hint="spacy-transfer init vectors en --train corpus.txt ./vectors",
        )
    if first is None:
        raise UserError(
            "Missing OUTPUT_DIR", hint="spacy-transfer init vectors en --train corpus.txt ./vectors"
        )
    return first


def _train(lang: str, text: Path, output: Path, settings: "TrainSettings", **options: object) -> "Report":
    from ..core.vectors.trainer import train_and_convert

    msg.info(f"Training {settings.algorithm} vectors on {text}")
    _, report, train_report = train_and_convert(lang, text, output, settings, **options)
    msg.table(train_report, header=("training", ""), divider=True)
    return report


def _print_report(report: "Report", output: Path) -> None:
    msg.table(report.rows_for_table(), header=("vectors", ""), divider=True)
    for warning in report.warnings:
        msg.warn(warning)
    for line, problem in report.skipped_examples:
        msg.text(f"  skipped line {line}: {problem}")
    for word, kept, score in report.prune_examples:
        msg.text(f"  pruned '{word}' -> '{kept}' (cosine {score})")
    msg.good(
        f"Saved a pipeline with {report.rows:,} vectors to {output}",
        "Load it with spacy.load(), or use the folder as [initialize] vectors (paths.vectors) in a config.",
    )
