"""`spacy-transfer convert`: treebank and NER files into .spacy corpora."""

from pathlib import Path

from spacy.tokens import DocBin
from spacy.vocab import Vocab

from ..conftest import run_cli

SAMPLE = Path(__file__).parents[2] / "data" / "sample"


def test_bundled_sample_converts_with_entities(tmp_path):
    out = tmp_path / "dev.spacy"
    result = run_cli("convert", str(SAMPLE / "ewt-dev.conllu.gz"), str(out), "--ner", str(SAMPLE / "uner-dev.iob2.gz"), "--n-sents", "5")
    assert result.exit_code == 0, result.output
    docs = list(DocBin().from_disk(out).get_docs(Vocab()))
    assert len(docs) == 80
    assert sum(len(d.ents) for d in docs) > 100
    assert all(t.dep_ for d in docs for t in d)


def test_unknown_format_is_a_clean_error(tmp_path):
    src = tmp_path / "data.csv"
    src.write_text("a,b\n")
    result = run_cli("convert", str(src), str(tmp_path / "out.spacy"))
    assert result.exit_code == 1
    assert "Unknown corpus format" in result.output
    assert not (tmp_path / "out.spacy").exists()
