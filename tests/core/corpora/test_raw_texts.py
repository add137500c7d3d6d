"""Raw text streamed from JSONL and plain text (gzipped too); a bad line is named."""

import gzip

import pytest

from spacy_transfer.core.corpora import iter_raw_texts
from spacy_transfer.errors import UserError


def test_raw_text_formats(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "one doc"}\n\n{"text": "two"}\n')
    with gzip.open(tmp_path / "b.txt.gz", "wt") as f:
        f.write("first line\n\nsecond line\n")
    assert list(iter_raw_texts(tmp_path / "a.jsonl")) == ["one doc", "two"]
    assert list(iter_raw_texts(tmp_path / "b.txt.gz")) == ["first line", "second line"]


def test_bad_jsonl_names_the_line(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{"txt": 1}\n')
    with pytest.raises(UserError, match="Line 2"):
        list(iter_raw_texts(tmp_path / "bad.jsonl"))
