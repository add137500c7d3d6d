"""`spacy-transfer convert`: treebank and NER files into .spacy corpora."""

from pathlib import Path

from spacy.tokens import DocBin
from spacy.vocab import Vocab

from ..conftest import DATA, run_cli

SAMPLE = Path(__file__).parents[2] / "data" / "sample"


def test_bundled_sample_converts_with_entities(tmp_path):
    out = tmp_path / "dev.spacy"
    result = run_cli(
        "convert",
        str(SAMPLE / "ewt-dev.conllu.gz"),
        str(out),
        "--ner",
        str(SAMPLE / "uner-dev.iob2.gz"),
        "--n-sents",
        "5",
    )
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


UNER_DEV = DATA / "uner_english-ewt" / "en_ewt-ud-dev.iob2"


def _uner_sentences(n: int):
    """(words, IOB tags) of the first ``n`` UNER dev sentences."""
    from spacy_transfer.core.corpora import iter_iob2_sentences

    out = []
    for words, tags in iter_iob2_sentences(UNER_DEV):
        out.append((list(words), list(tags)))
        if len(out) == n:
            return out
    return out


def _entities(path: Path):
    docs = list(DocBin().from_disk(path).get_docs(Vocab()))
    return [(e.text, e.label_) for d in docs for e in d.ents], docs


def _reference_entities(sentences):
    from spacy.tokens import Doc
    from spacy.training import biluo_tags_to_spans, iob_to_biluo

    vocab = Vocab()
    ents = []
    for words, tags in sentences:
        doc = Doc(vocab, words=words)
        doc.ents = biluo_tags_to_spans(doc, iob_to_biluo(tags))
        ents += [(e.text, e.label_) for e in doc.ents]
    return ents


def test_conll_2003_ner_files_convert_through_spacys_converter(tmp_path):
    sentences = _uner_sentences(30)
    lines = ["-DOCSTART- -X- O O", ""]
    for words, tags in sentences:
        lines += [f"{w} NN O {t}" for w, t in zip(words, tags)] + [""]
    src = tmp_path / "eng.conll"
    src.write_text("\n".join(lines) + "\n", encoding="utf8")
    for args in ([], ["--converter", "ner"], ["-c", "conll"]):
        out = tmp_path / f"ner{len(args)}.spacy"
        result = run_cli("convert", str(src), str(out), *args)
        assert result.exit_code == 0, result.output
        assert "ner converter" in result.output or "conll converter" in result.output
        ents, _ = _entities(out)
        assert ents == _reference_entities(sentences) and len(ents) > 10


def test_sentence_per_line_iob_files_convert(tmp_path):
    sentences = _uner_sentences(20)
    src = tmp_path / "train.iob"
    src.write_text(
        "".join(" ".join(f"{w}|{t}" for w, t in zip(words, tags)) + "\n" for words, tags in sentences),
        encoding="utf8",
    )
    out = tmp_path / "iob.spacy"
    result = run_cli("convert", str(src), str(out))  # auto: detected as spaCy's sentence-per-line iob
    assert result.exit_code == 0, result.output
    assert "iob converter" in result.output
    ents, docs = _entities(out)
    assert ents == _reference_entities(sentences)
    assert sum(len(d) for d in docs) == sum(len(w) for w, _ in sentences)


def test_spacy_json_files_convert(tmp_path):
    import srsly
    from spacy.training import docs_to_json

    conllu = tmp_path / "from.spacy"
    assert (
        run_cli(
            "convert", str(SAMPLE / "ewt-dev.conllu.gz"), str(conllu), "--limit", "20", "-n", "5"
        ).exit_code
        == 0
    )
    docs = list(DocBin().from_disk(conllu).get_docs(Vocab()))
    src = tmp_path / "train.json"
    srsly.write_json(src, [docs_to_json(docs)])
    out = tmp_path / "json.spacy"
    result = run_cli("convert", str(src), str(out))
    assert result.exit_code == 0, result.output
    back = list(DocBin().from_disk(out).get_docs(Vocab()))
    assert [t.text for d in back for t in d] == [t.text for d in docs for t in d]
    assert [t.dep_ for d in back for t in d] == [t.dep_ for d in docs for t in d]


def test_an_unknown_converter_names_the_ones_there_are(tmp_path):
    result = run_cli(
        "convert", str(SAMPLE / "ewt-dev.conllu.gz"), str(tmp_path / "out.spacy"), "--converter", "xml"
    )
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "Unknown converter 'xml'" in text and "conllu" in text and "ner" in text and "json" in text
    assert not (tmp_path / "out.spacy").exists()
