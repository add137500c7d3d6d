"""Turn a vectors file into a spaCy pipeline folder whose vocab holds the vectors."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ...errors import UserError
from ..io import atomic_dir
from .binary import read_fasttext_binary, read_gensim, read_npy, read_npz, read_word2vec_binary
from .sources import FORMATS, Source, detect_format, open_source
from .table import Stats, Table
from .text import read_text

ATTRS = ("ORTH", "LOWER", "NORM")
MODES = ("default", "floret")


@dataclass
class Report:
    """What the conversion did, for the final table. The counters of reading and shrinking
    (lines, duplicates, pruned, skipped, warnings, ...) are the table's :class:`Stats`,
    readable here as attributes too."""

    source: str
    format: str
    mode: str
    keys: int = 0
    rows: int = 0
    dims: int = 0
    seconds: float = 0.0
    name: str = ""
    stats: Stats = field(default_factory=Stats)

    def __getattr__(self, name: str) -> Any:
        stats = self.__dict__.get("stats")
        if stats is not None and name in Stats.__dataclass_fields__:
            return getattr(stats, name)
        raise AttributeError(f"'Report' object has no attribute '{name}'")

    def rows_for_table(self) -> List[Tuple[str, str]]:
        out = [
            ("source", self.source),
            ("format", self.format + ("" if self.mode == "default" else f" ({self.mode} mode)")),
            ("entries read", f"{self.lines:,}"),
            ("keys (words)", f"{self.keys:,}" if self.mode == "default" else "- (floret hashes subwords)"),
            ("vectors (rows x dims)", f"{self.rows:,} x {self.dims}"),
            ("duplicate words dropped", f"{self.duplicates:,}"),
            ("words sharing an identical row", f"{self.shared_rows:,}"),
            ("rows pruned", f"{self.pruned:,}"),
            ("bad lines skipped", f"{self.skipped:,}"),
            ("truncated", "yes" if self.truncated else "no"),
            ("name", self.name),
            ("seconds", f"{self.seconds:.1f}"),
        ]
        return out


def check_options(*, mode: str, attr: str, prune: int, truncate: int, fmt: str) -> None:
    if mode not in MODES:
        raise UserError(f"Unknown --mode '{mode}'", hint=f"Use one of: {', '.join(MODES)}.")
    if attr.upper() not in ATTRS:
        raise UserError(f"Unknown --attr '{attr}'", hint=f"Use one of: {', '.join(ATTRS)}.")
    if fmt not in FORMATS:
        raise UserError(f"Unknown --format '{fmt}'", hint=f"Use one of: {', '.join(FORMATS)}.")
    if mode == "floret" and prune >= 1:
        raise UserError(
            "--prune does not apply to floret vectors",
            hint="floret tables are hashed subword rows; choose the table size (bucket) when training.",
        )
    if mode == "floret" and truncate >= 1:
        raise UserError(
            "--truncate does not apply to floret vectors",
            hint="Every row of a floret table is needed; choose the bucket size when training.",
        )
    if fmt == "floret" and mode != "floret":
        raise UserError("--format floret needs --mode floret")


def read_table(
    path: Path,
    *,
    fmt: str = "auto",
    mode: str = "default",
    truncate: int = 0,
    skip_bad_lines: bool = False,
    words: Optional[Path] = None,
    progress: bool = False,
) -> Tuple[Table, str, Dict[str, object]]:
    """Read any supported vectors file into a Table; returns (table, format, floret settings)."""
    with open_source(path) as source:
        found = detect_format(source, mode) if fmt == "auto" else fmt
        if mode == "floret" and found != "floret":
            raise UserError(
                f"{path} is {found} data, but --mode floret needs floret's text export",
                hint="Export it with floret's save_floret_vectors (a .floret file).",
            )
        _check_packaging(source, found)
        if found in ("text", "floret"):
            table, floret = read_text(
                source, mode=mode, truncate=truncate, skip_bad_lines=skip_bad_lines, progress=progress
            )
            return table, found, floret
        if found == "word2vec-bin":
            return (
                read_word2vec_binary(
                    source, truncate=truncate, skip_bad_lines=skip_bad_lines, progress=progress
                ),
                found,
                {},
            )
    # The formats below are read by path, by NumPy or gensim.
    if found == "fasttext-bin":
        return read_fasttext_binary(path, truncate=truncate), found, {}
    if found == "gensim":
        return read_gensim(path, truncate=truncate), found, {}
    if found == "npy":
        return read_npy(path, words, truncate=truncate), found, {}
    if found == "npz":
        return read_npz(path, words, truncate=truncate), found, {}
    raise UserError(f"Unknown format {found}")  # unreachable: formats are checked first


def _check_packaging(source: Source, found: str) -> None:
    if found in ("npy", "npz", "fasttext-bin", "gensim") and source.compression in ("zip", "tar"):
        raise UserError(
            f"{source.path} is a {source.compression} archive holding {found} data",
            hint="Extract the file from the archive and convert that.",
        )
    if found in ("npy",) and source.compression:
        raise UserError(f"{source.path} is compressed {found} data", hint="Decompress it first.")


def build_nlp(
    lang: str, table: Table, *, mode: str, attr: str, name: Optional[str], floret: Dict[str, object]
):
    """A blank pipeline of ``lang`` whose vocab holds the table's vectors."""
    from spacy.vectors import Vectors

    nlp = blank_nlp(lang)
    strings = nlp.vocab.strings
    if mode == "floret":
        vectors = Vectors(strings=strings, data=table.matrix, attr=attr.upper(), **floret)  # type: ignore[arg-type]
    else:
        vectors = Vectors(strings=strings, data=table.matrix, attr=attr.upper())
        add = strings.add
        table.index.clear()  # only needed while reading; frees memory before key2row is built
        rows = table.rows_of_words()
        # Fill key2row directly: one dict build instead of one Vectors.add call per word.
        vectors.key2row = {add(word): row for word, row in zip(table.words, rows)}
    nlp.vocab.vectors = vectors
    vectors.name = name or f"{nlp.meta['lang']}_{nlp.meta['name']}.vectors"
    nlp.meta["vectors"]["name"] = vectors.name
    return nlp


def blank_nlp(lang: str):
    import spacy

    from ..validation import check_language

    check_language(lang)
    return spacy.blank(lang)


def check_output_dir(output_dir: Path) -> None:
    """Refuse to replace a folder that is not a spaCy pipeline (atomic_dir replaces it whole)."""
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"{output_dir} exists and is a file", hint="Give a folder path for the pipeline.")
    if output_dir.is_dir() and any(output_dir.iterdir()) and not (output_dir / "meta.json").exists():
        raise UserError(
            f"{output_dir} is a folder with other files in it; not replacing it",
            hint="Choose a new folder, or an existing pipeline folder to replace.",
        )


def save_nlp(nlp, output_dir: Path) -> None:
    import srsly

    with atomic_dir(output_dir) as tmp:
        nlp.to_disk(tmp)
        vectors = nlp.vocab.vectors
        cfg_path = tmp / "vocab" / "vectors.cfg"
        if vectors.mode == "default" and cfg_path.exists():
            # spaCy 3.8 writes the key attribute (LOWER, NORM) only for floret tables, and
            # reads it back for both: store it so --attr survives spacy.load().
            cfg = srsly.read_json(cfg_path)
            cfg["attr"] = int(vectors.attr)
            srsly.write_json(cfg_path, cfg)


def convert_vectors(
    lang: str,
    vectors_path: Path,
    output_dir: Optional[Path],
    *,
    fmt: str = "auto",
    mode: str = "default",
    prune: int = -1,
    truncate: int = 0,
    name: Optional[str] = None,
    attr: str = "ORTH",
    skip_bad_lines: bool = False,
    words: Optional[Path] = None,
    progress: bool = False,
):
    """Read ``vectors_path``, build the pipeline, save it to ``output_dir`` (if given).

    Returns ``(nlp, report)``.
    """
    check_options(mode=mode, attr=attr, prune=prune, truncate=truncate, fmt=fmt)
    if output_dir is not None:
        check_output_dir(output_dir)
    blank_nlp(lang)  # fail on a bad language before reading a big file
    start = time.perf_counter()
    table, found, floret = read_table(
        vectors_path,
        fmt=fmt,
        mode=mode,
        truncate=truncate,
        skip_bad_lines=skip_bad_lines,
        words=words,
        progress=progress,
    )
    return finish(
        lang,
        table,
        found,
        floret,
        output_dir,
        source=str(vectors_path),
        mode=mode,
        prune=prune,
        truncate=truncate,
        name=name,
        attr=attr,
        start=start,
    )


def finish(
    lang: str,
    table: Table,
    found: str,
    floret: Dict[str, object],
    output_dir: Optional[Path],
    *,
    source: str,
    mode: str,
    prune: int,
    truncate: int,
    name: Optional[str],
    attr: str,
    start: float,
):
    """Shrink the table (truncate, shared rows, prune), build the pipeline and save it."""
    if len(table.words) == 0:
        raise UserError(
            f"No vectors were read from {source}",
            hint="The file has no valid lines (see --skip-bad-lines in the report).",
        )
    if mode != "floret":
        table.truncate(truncate)
        table.deduplicate()
        if prune >= 1:
            table.prune(prune)
    nlp = build_nlp(lang, table, mode=mode, attr=attr, name=name, floret=floret)
    if output_dir is not None:
        save_nlp(nlp, output_dir)
    report = Report(
        source=source,
        format=found,
        mode=mode,
        keys=len(table.words) if mode != "floret" else 0,
        rows=int(table.matrix.shape[0]),
        dims=table.dims,
        seconds=time.perf_counter() - start,
        name=nlp.vocab.vectors.name,
        stats=table.stats,
    )
    return nlp, report
