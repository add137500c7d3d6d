"""CoNLL-U treebanks read into docs of n sentences."""

from spacy_transfer.core.corpora import read_conllu


def test_conllu_keeps_tags_heads_and_sentences(shared_data):
    docs = read_conllu(shared_data / "ud_english-ewt/en_ewt-ud-dev.conllu", n_sents=5, limit=20)
    assert len(docs) == 4
    doc = docs[0]
    assert len(list(doc.sents)) == 5
    assert all(t.pos_ for t in doc) and all(t.dep_ for t in doc)
