"""Raw text for pretraining: every format streams the same documents."""

from __future__ import annotations

import gzip
import json

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.util import registry

from spacy_transfer.core.pretraining.raw_text import RawTextCorpus, resolve_pretraining_corpus
from spacy_transfer.errors import UserError


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


@pytest.fixture
def formats(tmp_path, paragraphs, nlp):
    texts = paragraphs[:20]
    jsonl = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    txt = "\n".join(texts) + "\n"
    db = DocBin()
    for t in texts:
        db.add(nlp.make_doc(t))
    files = {
        "text.jsonl": jsonl.encode(),
        "text.jsonl.gz": gzip.compress(jsonl.encode()),
        "text.txt": txt.encode(),
        "text.txt.gz": gzip.compress(txt.encode()),
        "text.spacy": db.to_bytes(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path, texts


def test_all_formats_give_the_same_docs(formats, nlp):
    folder, texts = formats
    for name in ("text.jsonl", "text.jsonl.gz", "text.txt", "text.txt.gz", "text.spacy"):
        docs = list(RawTextCorpus(folder / name).docs(nlp))
        assert [d.text for d in docs] == texts, name


def test_a_folder_reads_all_its_files(formats, nlp):
    folder, texts = formats
    assert len(list(RawTextCorpus(folder).docs(nlp))) == 5 * len(texts)


def test_length_filters_and_limit_as_in_spacy(formats, nlp):
    folder, texts = formats
    lengths = [len(nlp.make_doc(t)) for t in texts]
    cut = sorted(lengths)[10]
    kept = list(RawTextCorpus(folder / "text.jsonl", min_length=cut).docs(nlp))
    assert len(kept) == sum(n >= cut for n in lengths)
    short = list(RawTextCorpus(folder / "text.jsonl", max_length=cut).docs(nlp))
    assert len(short) == sum(n < cut for n in lengths)  # JsonlCorpus skips len >= max_length
    assert len(list(RawTextCorpus(folder / "text.jsonl", limit=3).docs(nlp))) == 3


def test_registered_reader_yields_examples(formats, nlp):
    folder, texts = formats
    reader = registry.resolve(
        {"c": {"@readers": "spacy-transfer.RawTextCorpus.v1", "path": str(folder / "text.txt.gz")}}
    )["c"]
    examples = list(reader(nlp))
    assert [eg.reference.text for eg in examples] == texts


def test_default_jsonl_reader_section_reads_plain_text(formats, nlp):
    """[corpora.pretrain] with spacy.JsonlCorpus.v1 (spaCy's default) also takes .txt.gz."""
    folder, texts = formats
    section = {
        "@readers": "spacy.JsonlCorpus.v1",
        "path": str(folder / "text.txt.gz"),
        "min_length": 0,
        "max_length": 0,
        "limit": 0,
    }
    corpus = resolve_pretraining_corpus(section)
    assert [d.text for d in corpus.docs(nlp)] == texts


def test_other_readers_resolve_as_in_spacy(formats):
    folder, _ = formats
    corpus = resolve_pretraining_corpus(
        {"@readers": "spacy.PlainTextCorpus.v1", "path": str(folder / "text.txt")}
    )
    assert type(corpus).__name__ == "PlainTextCorpus"


def test_folder_without_raw_text(tmp_path):
    (tmp_path / "notes.md").write_text("hi")
    with pytest.raises(UserError, match="No raw text files"):
        RawTextCorpus(tmp_path)
