"""Stream word2vec / fastText / GloVe text files (and floret's text export) into a Table.

One line per vector: the word, then the numbers, separated by spaces. A first line with
two integers (``rows dims``) is a header; GloVe files have none, so the width is read from
the first line and the rows are counted in a quick first pass. As in spaCy, a word may
contain spaces: the last ``dims`` fields of a line are the numbers, the rest is the word.
"""

from __future__ import annotations

import warnings
from typing import Dict, Iterator, Optional, Tuple

import numpy

from ...errors import UserError
from .sources import Source, open_source
from .table import Table

MAX_EXAMPLES = 5


class BadLine(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def iter_lines(source: Source) -> Iterator[bytes]:
    """Every line of the decompressed stream, without its line break."""
    rest = b""
    for block in source.blocks():
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


def count_lines(source: Source) -> int:
    """Count lines (a last line without a line break too) in one cheap pass."""
    count = 0
    last = b"\n"
    for block in source.blocks():
        count += block.count(b"\n")
        last = block[-1:]
    return count + (last != b"\n")


def parse_header(first: bytes, mode: str) -> Tuple[Optional[int], int, Dict[str, object]]:
    """Return (rows or None, dims, floret settings) from the first line."""
    fields = first.split()
    if mode == "floret":
        if len(fields) != 8 or not all(f.isdigit() for f in fields[:6]):
            raise UserError(
                "The first line is not a floret header",
                rows=[("line 1", first[:80].decode("utf8", "replace"))],
                hint="floret text exports start with 'bucket dim minn maxn hash_count hash_seed BOW EOW'; "
                "write one with floret's save_floret_vectors, or drop --mode floret for ordinary vectors.",
            )
        bucket, dims, minn, maxn, hash_count, hash_seed = (int(f) for f in fields[:6])
        settings = dict(
            mode="floret",
            minn=minn,
            maxn=maxn,
            hash_count=hash_count,
            hash_seed=hash_seed,
            bow=fields[6].decode("utf8"),
            eow=fields[7].decode("utf8"),
        )
        return bucket, dims, settings
    if len(fields) == 8 and all(f.isdigit() for f in fields[:6]):
        raise UserError(
            "This is a floret vectors file (its first line is a floret header)",
            hint="Convert it with --mode floret.",
        )
    if len(fields) == 2 and all(f.isdigit() for f in fields):
        return int(fields[0]), int(fields[1]), {}
    # No header (GloVe): every trailing field that is a number is a dimension.
    dims = 0
    for f in reversed(fields[1:]):
        try:
            float(f)
        except ValueError:
            break
        dims += 1
    if dims == 0:
        raise UserError(
            "The first line is neither a 'rows dims' header nor a word followed by numbers",
            rows=[("line 1", first[:80].decode("utf8", "replace"))],
            hint="Give a word2vec/fastText/GloVe text file, or name the format with --format.",
        )
    return None, dims, {}


def _parse_slow(line: bytes, dims: int) -> Tuple[str, numpy.ndarray]:
    """Split a line the careful way, naming what is wrong with it."""
    pieces = line.rsplit(None, dims)
    if len(pieces) < dims + 1:
        raise BadLine(f"expected a word and {dims} numbers, found {len(pieces)} fields")
    word_b, numbers = pieces[0], pieces[1:]
    try:
        vector = numpy.asarray([float(x) for x in numbers], dtype=numpy.float32)
    except ValueError:
        bad = next(x for x in numbers if not _is_float(x))
        # A word with a space but a missing number looks like a non-number: say both.
        raise BadLine(
            f"'{bad.decode('utf8', 'replace')[:30]}' is not a number (or the line has the wrong number of values)"
        ) from None
    return _decode_word(word_b), vector


def _is_float(x: bytes) -> bool:
    try:
        float(x)
        return True
    except ValueError:
        return False


def _decode_word(word_b: bytes) -> str:
    try:
        return word_b.decode("utf8")
    except UnicodeDecodeError as e:
        raise BadLine(f"the word is not valid UTF-8 ({e.reason} at byte {e.start})") from None


def read_text(
    source: Source,
    *,
    mode: str = "default",
    truncate: int = 0,
    skip_bad_lines: bool = False,
    progress: bool = False,
) -> Tuple[Table, Dict[str, object]]:
    """Read a text vectors file into a Table (and floret settings in floret mode)."""
    lines = iter_lines(source)
    first, rows, dims, floret = _read_header(source, lines, mode)
    has_header = rows is not None
    if rows is None:
        # Headerless: count the lines first so the matrix is allocated once, exactly.
        with open_source(source.path) as again:
            rows = count_lines(again)
    table = Table(dims, min(rows, truncate) if truncate >= 1 else rows)
    table.stats.header_rows = rows if has_header else None
    bar = source.progress(progress)
    # Data lines: the first line too when it was not a header.
    data_lines: Iterator[bytes] = _chain_first(None if has_header else first, lines)
    lineno = 1 if has_header else 0
    floret_mode = mode == "floret"
    with warnings.catch_warnings():
        # np.fromstring warns (instead of failing) on text it cannot parse: make that an error.
        warnings.simplefilter("error", DeprecationWarning)
        for line in data_lines:
            lineno += 1
            if lineno & 0x3FFF == 0:
                bar.tick()
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line.strip():
                continue
            try:
                word, vector = _parse_line(line, dims)
            except BadLine as e:
                if not skip_bad_lines:
                    raise _malformed(source, lineno, line, e) from None
                table.stats.skip(lineno, e.problem, MAX_EXAMPLES)
                continue
            table.stats.lines += 1
            _store(table, word, vector, floret_mode)
            if truncate >= 1 and table.stats.lines >= truncate:
                table.stats.truncated = True
                break
    bar.close()
    _check_rows(table, rows, has_header, floret_mode)
    return table, floret


def _read_header(
    source: Source, lines: Iterator[bytes], mode: str
) -> Tuple[bytes, Optional[int], int, Dict[str, object]]:
    """The first line, and the rows (None without a header), width and floret settings it gives."""
    first = next(lines, None)
    if first is None or not first.strip():
        raise UserError(
            f"{source.where} is empty", hint="Give a vectors file with one word and its numbers per line."
        )
    try:
        rows, dims, floret = parse_header(first.rstrip(b"\r"), mode)
    except UserError as e:
        e.message = f"{e.message} ({source.where})"  # the file it is about
        raise
    return first, rows, dims, floret


def _parse_line(line: bytes, dims: int) -> Tuple[str, numpy.ndarray]:
    """The word and its vector; the fast path for the usual line, spaCy's rules otherwise."""
    word_b, _, rest = line.partition(b" ")
    try:
        vector = numpy.fromstring(rest, dtype=numpy.float32, sep=" ")
        fast = vector.shape[0] == dims and bool(word_b)
    except (DeprecationWarning, ValueError):
        fast = False
    if fast:
        return _decode_word(word_b), vector
    return _parse_slow(line, dims)


def _store(table: Table, word: str, vector: numpy.ndarray, floret_mode: bool) -> None:
    if floret_mode:
        # floret rows are numbered 0..bucket-1; keep them in file order.
        row = len(table.words)
        if row >= table.matrix.shape[0]:
            table.grow(row + 1)
        table.words.append(word)
    else:
        row = table.slot(word)
        if row < 0:
            return
    table.matrix[row] = vector


def _malformed(source: Source, lineno: int, line: bytes, e: BadLine) -> UserError:
    shown = line[:80].decode("utf8", "replace") + (" ..." if len(line) > 80 else "")
    return UserError(
        f"Line {lineno} of {source.where} is malformed: {e.problem}",
        rows=[(f"line {lineno}", shown)],
        hint="Fix or delete the line, or pass --skip-bad-lines to skip malformed lines (they are counted in the report).",
    )


def _check_rows(table: Table, rows: int, has_header: bool, floret_mode: bool) -> None:
    if has_header and not table.stats.truncated and table.stats.lines != rows:
        table.stats.warnings.append(
            f"the header says {rows} rows but the file has {table.stats.lines + table.stats.skipped}"
        )
    table.finish_reading()
    if floret_mode and table.matrix.shape[0] != rows:
        raise UserError(
            f"The floret file has {table.matrix.shape[0]} rows but its header says bucket={rows}",
            hint="The file looks truncated; export it again with save_floret_vectors.",
        )


def _chain_first(first: Optional[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    if first is not None:
        yield first
    yield from rest
