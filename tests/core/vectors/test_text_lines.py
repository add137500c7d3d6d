"""Reading text vectors line by line: malformed lines, odd words, duplicates, headers."""

from __future__ import annotations

import numpy
import pytest

from spacy_transfer.core.vectors import convert_vectors
from spacy_transfer.errors import UserError


def convert(path, **kwargs):
    return convert_vectors("en", path, None, **kwargs)


def write(tmp_path, text: str, name: str = "v.vec", raw: bytes = None):
    path = tmp_path / name
    path.write_bytes(raw if raw is not None else text.encode("utf8"))
    return path


def test_a_missing_value_names_the_line(tmp_path):
    path = write(tmp_path, "3 2\ncat 0.1 0.2\ndog 0.3\nfox 0.5 0.6\n")
    with pytest.raises(UserError, match="Line 3 .* malformed: expected a word and 2 numbers") as e:
        convert(path)
    assert "--skip-bad-lines" in e.value.hint
    assert e.value.rows[0][0] == "line 3"


def test_a_non_number_names_the_line(tmp_path):
    path = write(tmp_path, "3 2\ncat 0.1 0.2\ndog 0.3 0.4\nfox 0.5 zero\n")
    with pytest.raises(UserError, match="Line 4 .*'zero' is not a number"):
        convert(path)


def test_extra_values_are_not_silently_misread(tmp_path):
    # With a word before them, 3 numbers on a 2-dim line read as word "dog 0.3" (as in spaCy)
    # only when the extra field is part of the word; a number-only word stays a number.
    path = write(tmp_path, "2 2\ncat 0.1 0.2\ndog 0.3 0.4 0.5\n")
    nlp, report = convert(path)
    assert nlp.vocab.has_vector("dog 0.3")
    numpy.testing.assert_allclose(nlp.vocab.get_vector("dog 0.3"), [0.4, 0.5])


def test_skip_bad_lines_counts_them(tmp_path):
    path = write(tmp_path, "4 2\ncat 0.1 0.2\ndog 0.3\nfox 0.5 x\nowl 0.7 0.8\n")
    nlp, report = convert(path, skip_bad_lines=True)
    assert report.skipped == 2
    assert [line for line, _ in report.skipped_examples] == [3, 4]
    assert report.keys == 2
    assert nlp.vocab.has_vector("owl") and not nlp.vocab.has_vector("fox")


def test_words_with_spaces_are_kept_whole(tmp_path):
    # GloVe 840B has such words; the last `dims` fields are the numbers.
    path = write(tmp_path, "New York 0.1 0.2\ncat 0.3 0.4\n", name="glove.txt")
    nlp, report = convert(path)
    assert report.dims == 2
    numpy.testing.assert_allclose(nlp.vocab.get_vector("New York"), [0.1, 0.2])


def test_non_utf8_word_is_reported_with_its_line(tmp_path):
    raw = "2 2\ncat 0.1 0.2\n".encode("utf8") + b"caf\xe9 0.3 0.4\n"
    path = write(tmp_path, "", raw=raw)
    with pytest.raises(UserError, match="Line 3 .*not valid UTF-8"):
        convert(path)
    nlp, report = convert(path, skip_bad_lines=True)
    assert report.skipped == 1 and report.keys == 1


def test_duplicate_words_keep_the_first_and_are_counted(tmp_path):
    path = write(tmp_path, "3 2\ncat 0.1 0.2\ndog 0.3 0.4\ncat 0.9 0.9\n")
    nlp, report = convert(path)
    assert report.duplicates == 1 and report.keys == 2
    numpy.testing.assert_allclose(nlp.vocab.get_vector("cat"), [0.1, 0.2])


def test_identical_vectors_share_one_row(tmp_path):
    path = write(tmp_path, "4 2\ncat 0.1 0.2\ndog 0.3 0.4\nkitty 0.1 0.2\npup 0.3 0.4\n")
    nlp, report = convert(path)
    assert report.keys == 4 and report.rows == 2 and report.shared_rows == 2
    assert nlp.vocab.vectors.find(key="kitty") == nlp.vocab.vectors.find(key="cat") == 0
    numpy.testing.assert_allclose(nlp.vocab.get_vector("pup"), [0.3, 0.4])


def test_header_row_count_larger_than_file_is_a_warning(tmp_path):
    path = write(tmp_path, "5 2\ncat 0.1 0.2\ndog 0.3 0.4\n")
    nlp, report = convert(path)
    assert report.rows == 2
    assert any("header says 5 rows" in w for w in report.warnings)


def test_header_row_count_smaller_than_file_still_reads_all(tmp_path):
    path = write(tmp_path, "1 2\ncat 0.1 0.2\ndog 0.3 0.4\nfox 0.5 0.6\n")
    nlp, report = convert(path)
    assert report.rows == 3 and nlp.vocab.has_vector("fox")


def test_blank_lines_and_missing_final_newline(tmp_path):
    path = write(tmp_path, "cat 0.1 0.2\n\ndog 0.3 0.4", name="glove.txt")
    nlp, report = convert(path)
    assert report.keys == 2


def test_numbers_as_words(tmp_path):
    path = write(tmp_path, "2 2\n1990 0.1 0.2\n42 0.3 0.4\n")
    nlp, _ = convert(path)
    numpy.testing.assert_allclose(nlp.vocab.get_vector("42"), [0.3, 0.4])


def test_empty_file(tmp_path):
    with pytest.raises(UserError, match="is empty"):
        convert(write(tmp_path, ""))


def test_not_a_vectors_file(tmp_path):
    with pytest.raises(UserError, match="neither a 'rows dims' header nor a word followed by numbers"):
        convert(write(tmp_path, "hello world\nfoo bar\n", name="notes.txt"))


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        convert(tmp_path / "nope.vec")


def test_damaged_gzip_is_reported(tmp_path):
    import gzip

    data = gzip.compress(b"2 2\ncat 0.1 0.2\ndog 0.3 0.4\n" * 1000)
    path = write(tmp_path, "", name="v.vec.gz", raw=data[: len(data) // 2])
    with pytest.raises(UserError, match="Could not read|damaged|truncated"):
        convert(path)


def test_malformed_first_line_is_still_read_as_text(tmp_path):
    path = write(tmp_path, "2 3\ncat 0.1\ndog 0.1 0.2 0.3\n")
    with pytest.raises(UserError, match="Line 2 .* malformed"):
        convert(path)


def test_short_vectors_of_small_integers_are_text(tmp_path):
    path = write(tmp_path, "2 3\nthe 1 0 0\ncat 0 1 0\n")
    nlp, report = convert(path)
    assert report.format == "text" and report.keys == 2
