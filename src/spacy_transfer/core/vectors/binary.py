"""Binary vector formats: word2vec ``.bin``, fastText ``.bin`` models, gensim saved
models, and NumPy ``.npy``/``.npz`` with a word list.

word2vec's binary layout is simple enough to stream ourselves (header line, then for each
word its UTF-8 bytes, a space and ``dims`` little-endian float32 values), which keeps the
memory at one matrix and works inside compressed files. fastText models and gensim saved
models need gensim, imported only when such a file is converted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import numpy

from ...errors import UserError
from .sources import Source
from .table import Stats, Table
from .text import BadLine, _decode_word

GENSIM_HINT = "Install the optional extra: pip install 'spacy-transfer[vectors]' (or pip install gensim)."


def require_gensim(what: str):
    try:
        import gensim  # noqa: F401
    except ImportError:
        raise UserError(f"Reading {what} needs gensim, which is not installed", hint=GENSIM_HINT) from None
    return gensim


def read_word2vec_binary(
    source: Source, *, truncate: int = 0, skip_bad_lines: bool = False, progress: bool = False
) -> Table:
    """Read the C word2vec tool's binary format: a text header, then word, space, float32s."""
    blocks = source.blocks()
    rows, dims, buf = _word2vec_header(source, blocks)
    table = Table(dims, min(rows, truncate) if truncate >= 1 else rows)
    table.stats.header_rows = rows
    width = 4 * dims
    pos = 0
    bar = source.progress(progress)
    for entry in range(rows):
        buf, pos, space = _fill(buf, pos, width, blocks)
        if space < 0:
            table.stats.warnings.append(f"the header says {rows} rows but the file ends after {entry}")
            break
        word_b = buf[pos:space].lstrip(b"\n")  # the C tool writes a newline after each vector
        vector = numpy.frombuffer(buf, dtype="<f4", count=dims, offset=space + 1)
        pos = space + 1 + width
        table.stats.lines += 1
        try:
            word = _decode_word(word_b)
        except BadLine as e:
            if not skip_bad_lines:
                raise UserError(
                    f"Entry {entry + 1} of {source.where} is malformed: {e.problem}",
                    hint="Pass --skip-bad-lines to skip such entries (they are counted in the report).",
                ) from None
            table.stats.skip(entry + 1, e.problem)
            continue
        row = table.slot(word)
        if row >= 0:
            table.matrix[row] = vector
        if truncate >= 1 and table.stats.lines >= truncate:
            table.stats.truncated = True
            break
        if entry & 0x3FFF == 0:
            bar.tick()
    bar.close()
    table.finish_reading()
    return table


def _word2vec_header(source: Source, blocks: Iterator[bytes]) -> Tuple[int, int, bytes]:
    """Rows and width from the ``rows dims`` line, and the bytes read past it."""
    buf = b""
    for block in blocks:
        buf += block
        if b"\n" in buf:
            break
    header, _, buf = buf.partition(b"\n")
    try:
        rows, dims = (int(x) for x in header.split())
    except ValueError:
        raise UserError(
            f"{source.where} has no 'rows dims' header line",
            hint="word2vec binary files start with a text line like '3000000 300'.",
        ) from None
    return rows, dims, buf


def _fill(buf: bytes, pos: int, width: int, blocks: Iterator[bytes]) -> Tuple[bytes, int, int]:
    """Read on until one whole entry (word, space, vector) from ``pos`` is in the buffer.

    Returns the buffer, the entry's start in it and the position of the space after its
    word; the space is -1 when the file ends first.
    """
    while True:
        space = buf.find(b" ", pos)
        if space >= 0 and len(buf) >= space + 1 + width:
            return buf, pos, space
        block = next(blocks, None)
        if block is None:
            return buf, pos, -1
        buf = buf[pos:] + block
        pos = 0


def _from_keyed_vectors(kv, truncate: int) -> Table:
    words = [str(w) for w in kv.index_to_key]
    n = min(len(words), truncate) if truncate >= 1 else len(words)
    # Our own copy: the table later shrinks its matrix in place, which must not touch gensim's.
    matrix = numpy.array(kv.vectors[:n], dtype=numpy.float32, order="C")
    if n < len(words):
        words = words[:n]
        stats = Stats(truncated=True)
    else:
        stats = Stats()
    return Table.from_arrays(words, matrix, stats)


def read_fasttext_binary(path: Path, *, truncate: int = 0) -> Table:
    """A fastText ``.bin`` model: the full-word vectors of its vocabulary."""
    require_gensim("fastText binary models")
    from gensim.models.fasttext import load_facebook_vectors

    try:
        kv = load_facebook_vectors(str(path))
    except (ValueError, OSError, EOFError, AssertionError, NotImplementedError) as e:
        raise UserError(
            f"Could not read the fastText model {path}: {e}",
            hint="floret .bin models cannot be read this way: export floret text vectors (save_floret_vectors) and use --mode floret.",
        ) from None
    return _from_keyed_vectors(kv, truncate)


def read_gensim(path: Path, *, truncate: int = 0) -> Table:
    """A model saved with gensim's ``.save()``: KeyedVectors, Word2Vec or FastText."""
    require_gensim("gensim saved models")
    from gensim.utils import SaveLoad

    try:
        # gensim's own format is a pickle (plus .npy files beside it): only for trusted files.
        obj = SaveLoad.load(str(path))
    except Exception as e:  # unpickling can fail in many ways; all mean "not a gensim model"
        raise UserError(
            f"Could not load {path} as a gensim model: {type(e).__name__}: {e}",
            hint="Save it with model.save(path) or model.wv.save(path), keeping the .npy files written beside it.",
        ) from None
    kv = getattr(obj, "wv", obj)
    if not hasattr(kv, "index_to_key") or not hasattr(kv, "vectors"):
        raise UserError(
            f"{path} holds a {type(obj).__name__}, not word vectors",
            hint="Give a KeyedVectors, Word2Vec or FastText model saved by gensim.",
        )
    return _from_keyed_vectors(kv, truncate)


def read_words(path: Optional[Path], expected: int, what: Path) -> List[str]:
    if path is None:
        raise UserError(
            f"{what} holds only numbers; the words are missing",
            hint="Pass --words FILE with one word per line, in the order of the rows.",
        )
    if not Path(path).exists():
        raise UserError(f"Word list not found: {path}")
    with open(path, "rb") as f:
        raw = f.read().split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    words = []
    for i, w in enumerate(raw, 1):
        try:
            words.append(w.rstrip(b"\r").decode("utf8"))
        except UnicodeDecodeError:
            raise UserError(
                f"Line {i} of the word list {path} is not valid UTF-8",
                hint="Re-encode the word list as UTF-8.",
            ) from None
    if len(words) != expected:
        raise UserError(
            f"The word list has {len(words)} words but the matrix has {expected} rows",
            rows=[(path, f"{len(words)} words"), (what, f"{expected} rows")],
            hint="Give one word per line, in the order of the rows.",
        )
    return words


def _check_matrix(matrix: numpy.ndarray, path: Path) -> None:
    if matrix.ndim != 2 or not numpy.issubdtype(matrix.dtype, numpy.number):
        raise UserError(
            f"{path} holds a {matrix.dtype} array of shape {matrix.shape}, not a 2-d matrix of numbers",
            hint="Save the vectors as a (rows, dims) float array.",
        )


def read_npy(path: Path, words_path: Optional[Path], *, truncate: int = 0) -> Table:
    try:
        matrix = numpy.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as e:
        raise UserError(
            f"Could not read {path}: {e}", hint="Save the matrix with numpy.save (no object arrays)."
        ) from None
    _check_matrix(matrix, path)
    words = read_words(words_path, matrix.shape[0], path)
    return _finish_arrays(words, matrix, truncate)


_MATRIX_NAMES = ("vectors", "data", "embeddings", "matrix", "arr_0")
_WORD_NAMES = ("words", "keys", "vocab", "tokens", "strings", "arr_1")


def read_npz(path: Path, words_path: Optional[Path], *, truncate: int = 0) -> Table:
    try:
        archive = numpy.load(path, allow_pickle=False)
    except ValueError as e:
        raise UserError(
            f"Could not read {path}: {e}",
            hint="Save with numpy.savez(path, vectors=matrix, words=numpy.array(words)).",
        ) from None
    with archive:
        names = list(archive.files)
        mat_name = next((n for n in _MATRIX_NAMES if n in names), None)
        if mat_name is None:
            two_d = [n for n in names if archive[n].ndim == 2]
            mat_name = two_d[0] if len(two_d) == 1 else None
        if mat_name is None:
            raise UserError(
                f"{path} has no array named 'vectors' (arrays: {', '.join(names)})",
                hint="Save with numpy.savez(path, vectors=matrix, words=numpy.array(words)).",
            )
        matrix = archive[mat_name]
        _check_matrix(matrix, path)
        word_name = next((n for n in _WORD_NAMES if n in names and n != mat_name), None)
        if word_name is not None and words_path is None:
            word_arr = archive[word_name]
            if word_arr.ndim != 1 or word_arr.dtype.kind not in "US":
                raise UserError(
                    f"'{word_name}' in {path} is not a 1-d array of strings",
                    hint="Store the words as numpy.array(list_of_str).",
                )
            words = [w.decode("utf8") if isinstance(w, bytes) else str(w) for w in word_arr.tolist()]
            if len(words) != matrix.shape[0]:
                raise UserError(
                    f"{path} has {len(words)} words but {matrix.shape[0]} vectors",
                    hint="Give one word per row.",
                )
        else:
            words = read_words(words_path, matrix.shape[0], path)
    return _finish_arrays(words, matrix, truncate)


def _finish_arrays(words: List[str], matrix: numpy.ndarray, truncate: int) -> Table:
    stats = Stats()
    if truncate >= 1 and len(words) > truncate:
        words, matrix = words[:truncate], matrix[:truncate]
        stats.truncated = True
    # One float32 copy (reads the memory-mapped file once); then everything works in place.
    return Table.from_arrays(words, numpy.array(matrix, dtype=numpy.float32, order="C"), stats)
