"""UNER's IOB2 files: entities, the draft file's tags mapped, and joined to UD sentences."""

from spacy_transfer.core.corpora import read_iob2


def test_iob2_entities_and_uner_draft_tags_mapped(shared_data):
    docs = read_iob2(shared_data / "uner_english-ewt/draft-2022-12-02/en_ewt-ud-train.iob2", limit=200)
    labels = {e.label_ for d in docs for e in d.ents}
    assert labels <= {"PER", "ORG", "LOC"} and labels


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
