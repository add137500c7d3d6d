"""--prune keeps the most frequent rows and maps the rest to their nearest kept vector;
--truncate reads only the first rows."""

from __future__ import annotations

import numpy
import pytest
import spacy

from spacy_transfer.core.vectors import convert_vectors
from spacy_transfer.errors import UserError

# Frequency order, as in real vector files: the first rows are the most frequent words.
TEXT = """6 3
the 1.0 0.0 0.0
cat 0.0 1.0 0.0
dog 0.0 0.0 1.0
kitten 0.1 0.9 0.0
puppy 0.0 0.2 0.9
a 0.9 0.1 0.1
"""


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "v.vec"
    p.write_text(TEXT)
    return p


def test_prune_keeps_first_rows_and_remaps_the_rest_to_nearest(path):
    nlp, report = convert_vectors("en", path, None, prune=3)
    vectors = nlp.vocab.vectors
    assert vectors.shape == (3, 3)
    assert report.pruned == 3 and report.keys == 6
    find = lambda w: vectors.find(key=w)  # noqa: E731
    assert find("kitten") == find("cat")
    assert find("puppy") == find("dog")
    assert find("a") == find("the")
    assert ("kitten", "cat") in [(w, k) for w, k, _ in report.prune_examples]


def test_prune_matches_spacys_prune_vectors(path, tmp_path):
    ours, _ = convert_vectors("en", path, None, prune=3)
    # spaCy: load the full table, then Vocab.prune_vectors.
    full, _ = convert_vectors("en", path, None)
    full.vocab.prune_vectors(3)
    for word in ["the", "cat", "dog", "kitten", "puppy", "a"]:
        numpy.testing.assert_array_equal(ours.vocab.get_vector(word), full.vocab.get_vector(word))


def test_prune_larger_than_table_keeps_everything(path):
    nlp, report = convert_vectors("en", path, None, prune=100)
    assert nlp.vocab.vectors.shape == (6, 3) and report.pruned == 0


def test_truncate_reads_only_the_first_rows(path):
    nlp, report = convert_vectors("en", path, None, truncate=2)
    assert nlp.vocab.vectors.shape == (2, 3)
    assert report.truncated and report.lines == 2
    assert nlp.vocab.has_vector("cat") and not nlp.vocab.has_vector("dog")


def test_truncate_then_prune(path):
    nlp, report = convert_vectors("en", path, None, truncate=5, prune=2)
    assert nlp.vocab.vectors.shape == (2, 3) and report.keys == 5
    assert nlp.vocab.vectors.find(key="kitten") == nlp.vocab.vectors.find(key="cat")
    assert not nlp.vocab.has_vector("a")


def test_truncate_applies_to_binary_formats(tmp_path):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(3)
    kv.add_vectors(["the", "cat", "dog"], numpy.eye(3, dtype=numpy.float32))
    p = tmp_path / "v.bin"
    kv.save_word2vec_format(str(p), binary=True)
    nlp, report = convert_vectors("en", p, None, truncate=2)
    assert nlp.vocab.vectors.shape == (2, 3)


@pytest.mark.parametrize("option", [{"prune": 10}, {"truncate": 10}])
def test_prune_and_truncate_do_not_apply_to_floret(tmp_path, option):
    p = tmp_path / "v.floret"
    p.write_text("2 2 3 5 2 2166136261 < >\n0 0.1 0.2\n1 0.3 0.4\n")
    with pytest.raises(UserError, match="does not apply to floret"):
        convert_vectors("en", p, None, mode="floret", **option)


def test_attr_lower_looks_up_lowercased_tokens(path, tmp_path):
    nlp, _ = convert_vectors("en", path, tmp_path / "out", attr="LOWER")
    loaded = spacy.load(tmp_path / "out")
    doc = loaded("The CAT")
    numpy.testing.assert_allclose(doc[1].vector, [0.0, 1.0, 0.0])
    numpy.testing.assert_allclose(doc[0].vector, [1.0, 0.0, 0.0])


def test_unknown_attr_is_an_error(path):
    with pytest.raises(UserError, match="Unknown --attr"):
        convert_vectors("en", path, None, attr="SHAPE")


def test_name_is_saved(path, tmp_path):
    convert_vectors("en", path, tmp_path / "out", name="en_test.vectors")
    loaded = spacy.load(tmp_path / "out")
    assert loaded.vocab.vectors.name == "en_test.vectors"
    assert loaded.meta["vectors"]["name"] == "en_test.vectors"


def test_default_name_follows_spacy(path):
    nlp, _ = convert_vectors("en", path, None)
    assert nlp.vocab.vectors.name == "en_pipeline.vectors"
