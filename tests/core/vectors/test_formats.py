"""Every supported format converts to the same vectors for the same words."""

from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
import zipfile
from pathlib import Path

import numpy
import pytest

from spacy_transfer.core.vectors import convert_vectors
from spacy_transfer.core.vectors.build import read_table
from spacy_transfer.errors import UserError

from .conftest import DIMS, WORDS, keyed_vectors, write_text


def assert_same_vectors(nlp, sample):
    assert nlp.vocab.vectors.shape == (len(sample), DIMS)
    for word, vector in sample.items():
        assert nlp.vocab.has_vector(word)
        numpy.testing.assert_array_equal(nlp.vocab.get_vector(word), vector)


def convert(path: Path, **kwargs):
    nlp, report = convert_vectors("en", path, None, **kwargs)
    return nlp, report


def test_text_with_header(tmp_path, sample):
    nlp, report = convert(write_text(tmp_path / "v.vec", sample))
    assert report.format == "text"
    assert report.keys == len(WORDS) and report.dims == DIMS
    assert_same_vectors(nlp, sample)


def test_text_without_header_like_glove(tmp_path, sample):
    nlp, _ = convert(write_text(tmp_path / "glove.txt", sample, header=False))
    assert_same_vectors(nlp, sample)


def test_text_with_windows_line_breaks(tmp_path, sample):
    nlp, _ = convert(write_text(tmp_path / "v.txt", sample, newline="\r\n"))
    assert_same_vectors(nlp, sample)


@pytest.mark.parametrize(
    "suffix,compress",
    [
        (".vec.gz", gzip.compress),
        (".vec.bz2", bz2.compress),
        (".vec.xz", lzma.compress),
    ],
)
def test_compressed_text(tmp_path, sample, suffix, compress):
    text = write_text(tmp_path / "plain.vec", sample).read_bytes()
    path = tmp_path / f"v{suffix}"
    path.write_bytes(compress(text))
    nlp, _ = convert(path)
    assert_same_vectors(nlp, sample)


def test_headerless_gzip_counts_rows_first(tmp_path, sample):
    text = write_text(tmp_path / "plain.txt", sample, header=False).read_bytes()
    path = tmp_path / "glove.txt.gz"
    path.write_bytes(gzip.compress(text))
    nlp, _ = convert(path)
    assert_same_vectors(nlp, sample)


def test_zip_archive(tmp_path, sample):
    plain = write_text(tmp_path / "glove.6B.6d.txt", sample, header=False)
    path = tmp_path / "glove.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(plain, "glove.6B.6d.txt")
        z.writestr("README.txt", "not vectors")
    nlp, report = convert(path)
    assert_same_vectors(nlp, sample)


@pytest.mark.parametrize("mode,suffix", [("w:gz", ".tar.gz"), ("w:bz2", ".tar.bz2"), ("w", ".tar")])
def test_tar_archives(tmp_path, sample, mode, suffix):
    # spaCy's own `init vectors` fails on .tar.gz; here it is one stream, read once.
    plain = write_text(tmp_path / "cc.en.6.vec", sample)
    path = tmp_path / f"vectors{suffix}"
    with tarfile.open(path, mode) as t:
        t.add(plain, "data/cc.en.6.vec")
    nlp, _ = convert(path)
    assert_same_vectors(nlp, sample)


def test_archive_with_several_candidates_is_an_error(tmp_path, sample):
    plain = write_text(tmp_path / "a.vec", sample)
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.write(plain, "a.vec")
        z.write(plain, "b.vec")
    with pytest.raises(UserError, match="several files"):
        convert(path)


def test_word2vec_binary_written_by_gensim(tmp_path, sample):
    path = tmp_path / "v.bin"
    keyed_vectors(sample).save_word2vec_format(str(path), binary=True)
    nlp, report = convert(path)
    assert report.format == "word2vec-bin"
    assert_same_vectors(nlp, sample)


def test_word2vec_binary_gzipped(tmp_path, sample):
    path = tmp_path / "v.bin.gz"
    keyed_vectors(sample).save_word2vec_format(str(path), binary=True)  # gensim compresses by suffix
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    nlp, _ = convert(path)
    assert_same_vectors(nlp, sample)


def test_word2vec_text_written_by_gensim(tmp_path, sample):
    path = tmp_path / "v.txt"
    keyed_vectors(sample).save_word2vec_format(str(path), binary=False)
    nlp, _ = convert(path)
    assert_same_vectors(nlp, sample)


def test_gensim_keyed_vectors_saved_model(tmp_path, sample):
    path = tmp_path / "v.kv"
    keyed_vectors(sample).save(str(path))
    nlp, report = convert(path)
    assert report.format == "gensim"
    assert_same_vectors(nlp, sample)


SENTENCES = [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "sat", "on", "the", "log"]] * 20


@pytest.mark.parametrize("kind", ["Word2Vec", "FastText"])
def test_gensim_full_models(tmp_path, kind):
    import gensim.models

    model = getattr(gensim.models, kind)(SENTENCES, vector_size=8, min_count=1, epochs=2, seed=1, workers=1)
    path = tmp_path / "model.gensim"
    model.save(str(path))
    nlp, _ = convert(path)
    for word in model.wv.index_to_key:
        numpy.testing.assert_array_equal(nlp.vocab.get_vector(word), model.wv[word])


def test_fasttext_binary_model(tmp_path):
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    model = FastText(SENTENCES, vector_size=8, min_count=1, epochs=2, seed=1, workers=1)
    path = tmp_path / "cc.en.8.bin"
    save_facebook_model(model, str(path))
    nlp, report = convert(path)
    assert report.format == "fasttext-bin"
    assert report.keys == len(model.wv.index_to_key)
    for word in model.wv.index_to_key:
        numpy.testing.assert_allclose(nlp.vocab.get_vector(word), model.wv[word], rtol=1e-5, atol=1e-6)


def test_npy_with_word_list(tmp_path, sample):
    path = tmp_path / "m.npy"
    numpy.save(path, numpy.stack(list(sample.values())))
    words = tmp_path / "words.txt"
    words.write_text("\n".join(sample) + "\n", encoding="utf8")
    nlp, report = convert(path, words=words)
    assert report.format == "npy"
    assert_same_vectors(nlp, sample)


def test_npy_float64_is_stored_as_float32(tmp_path, sample):
    path = tmp_path / "m.npy"
    numpy.save(path, numpy.stack(list(sample.values())).astype(numpy.float64))
    words = tmp_path / "words.txt"
    words.write_text("\n".join(sample), encoding="utf8")
    nlp, _ = convert(path, words=words)
    assert nlp.vocab.vectors.data.dtype == numpy.float32
    assert_same_vectors(nlp, sample)


def test_npy_without_words_says_how_to_give_them(tmp_path, sample):
    path = tmp_path / "m.npy"
    numpy.save(path, numpy.stack(list(sample.values())))
    with pytest.raises(UserError, match="words are missing") as e:
        convert(path)
    assert "--words" in e.value.hint


def test_npy_word_count_mismatch(tmp_path, sample):
    path = tmp_path / "m.npy"
    numpy.save(path, numpy.stack(list(sample.values())))
    words = tmp_path / "words.txt"
    words.write_text("the\ncat\n")
    with pytest.raises(UserError, match="2 words but the matrix has 13 rows"):
        convert(path, words=words)


def test_npz_with_vectors_and_words(tmp_path, sample):
    path = tmp_path / "v.npz"
    numpy.savez(path, vectors=numpy.stack(list(sample.values())), words=numpy.array(list(sample)))
    nlp, report = convert(path)
    assert report.format == "npz"
    assert_same_vectors(nlp, sample)


def test_format_can_be_named(tmp_path, sample):
    path = write_text(tmp_path / "vectors.data", sample)
    nlp, report = convert(path, fmt="text")
    assert report.format == "text"
    assert_same_vectors(nlp, sample)


def test_missing_gensim_is_a_clear_error(tmp_path, sample, monkeypatch):
    # Simulate an install without the `vectors` extra: importing gensim fails.
    import sys

    path = tmp_path / "v.kv"
    keyed_vectors(sample).save(str(path))
    for name in [m for m in sys.modules if m == "gensim" or m.startswith("gensim.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "gensim", None)
    with pytest.raises(UserError, match="needs gensim") as e:
        convert(path)
    assert "spacy-transfer[vectors]" in e.value.hint


def test_floret_text_export(tmp_path):
    floret = pytest.importorskip("floret")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(s) for s in SENTENCES) + "\n")
    model = floret.train_unsupervised(
        str(corpus),
        model="cbow",
        mode="floret",
        dim=8,
        epoch=2,
        minCount=1,
        bucket=200,
        minn=2,
        maxn=4,
        hashCount=2,
        thread=1,
        verbose=0,
    )
    path = tmp_path / "v.floret"
    model.save_floret_vectors(str(path))
    nlp, report = convert(path, mode="floret")
    vectors = nlp.vocab.vectors
    assert vectors.mode == "floret" and vectors.shape == (200, 8)
    assert (vectors.minn, vectors.maxn, vectors.hash_count) == (2, 4, 2)
    # spaCy's floret lookup reproduces floret's own word vectors, also for unseen words.
    for word in ["cat", "mat", "catalog"]:
        numpy.testing.assert_allclose(nlp.vocab.get_vector(word), model.get_word_vector(word), atol=1e-5)


def test_floret_mode_needs_a_floret_file(tmp_path, sample):
    with pytest.raises(UserError, match="floret"):
        convert(write_text(tmp_path / "v.vec", sample), mode="floret")


def test_floret_file_without_floret_mode_says_so(tmp_path):
    path = tmp_path / "v.floret"
    path.write_text("2 2 3 5 2 2166136261 < >\n0 0.1 0.2\n1 0.3 0.4\n")
    with pytest.raises(UserError) as e:
        convert(path, fmt="text")
    assert "--mode floret" in e.value.hint


def test_handwritten_floret_file(tmp_path):
    path = tmp_path / "v.floret"
    path.write_text("3 2 3 5 2 2166136261 < >\n0 0.1 0.2\n1 0.3 0.4\n2 0.5 0.6\n")
    nlp, report = convert(path, mode="floret")
    assert nlp.vocab.vectors.shape == (3, 2)
    numpy.testing.assert_allclose(nlp.vocab.vectors.data[2], [0.5, 0.6])
    assert nlp.vocab.get_vector("anything").shape == (2,)


def test_read_table_reports_detected_format(tmp_path, sample):
    table, fmt, floret = read_table(write_text(tmp_path / "v.vec", sample))
    assert (fmt, floret, len(table)) == ("text", {}, len(WORDS))
