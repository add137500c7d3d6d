"""``.spacy`` files written atomically, and read back as they were."""

from spacy.tokens import DocBin
from spacy.vocab import Vocab

from spacy_transfer.core.corpora import read_iob2, write_docbin


def test_docbin_round_trip(tmp_path, shared_data):
    docs = read_iob2(shared_data / "uner_english-ewt/en_ewt-ud-dev.iob2", limit=20)
    path = write_docbin(docs, tmp_path / "dev.spacy")
    back = list(DocBin().from_disk(path).get_docs(Vocab()))
    assert [d.text for d in back] == [d.text for d in docs]
    assert [[e.text for e in d.ents] for d in back] == [[e.text for e in d.ents] for d in docs]
