"""The output folder is a spaCy pipeline: spacy.load, .vector, .similarity, most_similar,
and [initialize] vectors in a training config."""

from __future__ import annotations

import numpy
import pytest
import spacy

from spacy_transfer.core.vectors import convert_vectors
from spacy_transfer.errors import UserError

TEXT = """7 3
cat 0.9 0.1 0.0
dog 0.8 0.3 0.0
kitten 0.95 0.05 0.05
car 0.0 0.1 0.9
truck 0.0 0.2 0.95
the 0.3 0.3 0.3
sat 0.1 0.9 0.1
"""


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vec")
    src = folder / "v.vec"
    src.write_text(TEXT)
    out = folder / "pipeline"
    convert_vectors("en", src, out)
    return out


def test_loads_with_spacy_load(pipeline):
    nlp = spacy.load(pipeline)
    assert nlp.vocab.vectors.shape == (7, 3)
    assert nlp.meta["vectors"]["width"] == 3
    assert nlp.pipe_names == []


def test_vector_on_token_span_doc_lexeme(pipeline):
    nlp = spacy.load(pipeline)
    doc = nlp("the cat sat")
    numpy.testing.assert_allclose(doc[1].vector, [0.9, 0.1, 0.0], rtol=1e-6)
    numpy.testing.assert_allclose(nlp.vocab["cat"].vector, [0.9, 0.1, 0.0], rtol=1e-6)
    numpy.testing.assert_allclose(doc[0:2].vector, [0.6, 0.2, 0.15], rtol=1e-6)
    numpy.testing.assert_allclose(doc.vector, [1.3 / 3, 1.3 / 3, 0.4 / 3], rtol=1e-6)
    assert doc[1].has_vector and not nlp("zebra")[0].has_vector


def test_similarity_ranks_related_words_higher(pipeline):
    nlp = spacy.load(pipeline)
    cat, dog, car = (nlp.vocab[w] for w in ("cat", "dog", "car"))
    assert cat.similarity(dog) > cat.similarity(car)
    doc = nlp("cat truck")
    assert doc[0].similarity(nlp("kitten")[0]) > doc[0].similarity(doc[1])
    assert nlp("the cat").similarity(nlp("the dog")) > nlp("the cat").similarity(nlp("the car"))
    assert doc[0:1].similarity(nlp("dog")) > doc[1:2].similarity(nlp("dog"))


def test_most_similar(pipeline):
    nlp = spacy.load(pipeline)
    vectors = nlp.vocab.vectors
    keys, _, scores = vectors.most_similar(numpy.asarray([vectors[nlp.vocab.strings["car"]]]), n=2)
    assert [nlp.vocab.strings[k] for k in keys[0]] == ["car", "truck"]
    assert scores[0][0] == pytest.approx(1.0, abs=1e-5)


def test_usable_as_initialize_vectors(pipeline, tmp_path):
    from spacy.tokens import DocBin
    from spacy.training.initialize import init_nlp

    corpus = tmp_path / "train.spacy"
    DocBin(docs=[spacy.blank("en")("the cat sat")]).to_disk(corpus)
    config = spacy.blank("en").config.copy()
    config["paths"].update(vectors=str(pipeline), train=str(corpus), dev=str(corpus))
    config["initialize"]["vectors"] = "${paths.vectors}"
    nlp = init_nlp(config)
    assert nlp.vocab.vectors.shape == (7, 3)
    numpy.testing.assert_allclose(nlp("cat")[0].vector, [0.9, 0.1, 0.0], rtol=1e-6)


def test_replaces_an_existing_pipeline_atomically(pipeline, tmp_path):
    src = tmp_path / "v.vec"
    src.write_text("1 2\nowl 0.5 0.5\n")
    out = tmp_path / "out"
    convert_vectors("en", src, out)
    convert_vectors("en", src, out, name="second")
    assert spacy.load(out).vocab.vectors.name == "second"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_refuses_to_replace_a_folder_that_is_not_a_pipeline(tmp_path):
    src = tmp_path / "v.vec"
    src.write_text("1 2\nowl 0.5 0.5\n")
    out = tmp_path / "docs"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="not replacing it"):
        convert_vectors("en", src, out)
    assert (out / "notes.txt").read_text() == "keep me"


def test_failed_conversion_writes_nothing(tmp_path):
    src = tmp_path / "v.vec"
    src.write_text("2 2\nowl 0.5 0.5\nbad 0.1\n")
    out = tmp_path / "out"
    with pytest.raises(UserError):
        convert_vectors("en", src, out)
    assert list(tmp_path.iterdir()) == [src]


def test_unknown_language(tmp_path):
    src = tmp_path / "v.vec"
    src.write_text("1 2\nowl 0.5 0.5\n")
    with pytest.raises(UserError, match="Unknown language 'english'"):
        convert_vectors("english", src, None)
