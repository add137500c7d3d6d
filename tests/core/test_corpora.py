"""Reading the shared corpora into docs."""

import gzip

import pytest
from spacy.tokens import DocBin
from spacy.vocab import Vocab

from spacy_transfer.core.corpora import iter_raw_texts, read_conllu, read_iob2, write_docbin
from spacy_transfer.errors import UserError


def test_conllu_keeps_tags_heads_and_sentences(shared_data):
    docs = read_conllu(shared_data / "ud_english-ewt/en_ewt-ud-dev.conllu", n_sents=5, limit=20)
    assert len(docs) == 4
    doc = docs[0]
    assert len(list(doc.sents)) == 5
    assert all(t.pos_ for t in doc) and all(t.dep_ for t in doc)


def test_iob2_entities_and_uner_draft_tags_mapped(shared_data):
    docs = read_iob2(shared_data / "uner_english-ewt/draft-2022-12-02/en_ewt-ud-train.iob2", limit=200)
    labels = {e.label_ for d in docs for e in d.ents}
    assert labels <= {"PER", "ORG", "LOC"} and labels


def test_docbin_round_trip(tmp_path, shared_data):
    docs = read_iob2(shared_data / "uner_english-ewt/en_ewt-ud-dev.iob2", limit=20)
    path = write_docbin(docs, tmp_path / "dev.spacy")
    back = list(DocBin().from_disk(path).get_docs(Vocab()))
    assert [d.text for d in back] == [d.text for d in docs]
    assert [[e.text for e in d.ents] for d in back] == [[e.text for e in d.ents] for d in docs]


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


def test_ud_with_ner_attaches_entities_where_sentences_match(shared_data):
    from spacy_transfer.core.corpora import read_ud_with_ner

    docs = read_ud_with_ner(
        shared_data / "ud_english-ewt/en_ewt-ud-dev.conllu",
        shared_data / "uner_english-ewt/en_ewt-ud-dev.iob2",
        n_sents=10,
        limit=100,
    )
    assert len(docs) == 10
    assert sum(len(list(d.sents)) for d in docs) == 100
    assert any(d.ents for d in docs)
    assert all(t.pos_ and t.dep_ for d in docs for t in d)
