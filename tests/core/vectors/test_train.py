"""Training vectors on raw text: tokenized with spaCy, trained with gensim or floret,
converted in one step; the result captures meaning (analogies above chance)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy
import pytest

from spacy_transfer.core.vectors.analogies import analogy_accuracy, read_questions, vocab_analogy_accuracy
from spacy_transfer.core.vectors.trainer import TrainSettings, raw_text_files, train_and_convert, write_tokens
from spacy_transfer.errors import UserError

TEXT = ["The cat sat on the mat.", "The dog sat on the log.", "A cat and a dog don't like the rain."] * 30


def tiny(**kwargs) -> TrainSettings:
    return TrainSettings(**{"dims": 8, "epochs": 2, "min_count": 1, "workers": 1, "bucket": 500, **kwargs})


@pytest.fixture
def raw(tmp_path) -> Path:
    path = tmp_path / "raw.txt"
    path.write_text("\n".join(TEXT) + "\n", encoding="utf8")
    return path


def test_tokens_come_from_the_spacy_tokenizer(raw, tmp_path):
    import spacy

    out = tmp_path / "tokens.txt"
    n_texts, n_tokens = write_tokens(spacy.blank("en"), [raw], out)
    first_lines = out.read_text().splitlines()[:3]
    assert first_lines[2] == "A cat and a dog do n't like the rain ."
    assert n_texts == 90 and n_tokens == 30 * (7 + 7 + 11)


def test_lower_attr_lowercases_the_training_tokens(raw, tmp_path):
    import spacy

    out = tmp_path / "tokens.txt"
    write_tokens(spacy.blank("en"), [raw], out, attr="LOWER")
    assert out.read_text().splitlines()[0] == "the cat sat on the mat ."


def test_jsonl_gz_and_folders_are_read(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    with gzip.open(folder / "sub" / "a.jsonl.gz", "wt", encoding="utf8") as f:
        for t in TEXT[:3]:
            f.write(json.dumps({"text": t}) + "\n")
    (folder / "b.txt").write_text(TEXT[0] + "\n")
    (folder / "README").write_text("not text to train on")
    files = raw_text_files(folder)
    assert [p.name for p in files] == ["b.txt", "a.jsonl.gz"]


def test_word2vec_vectors_for_every_frequent_word(raw):
    nlp, report, rows = train_and_convert("en", raw, None, tiny())
    assert report.format == "word2vec" and report.dims == 8
    for word in ["cat", "dog", "n't", "."]:
        assert nlp.vocab.has_vector(word)
    assert dict(rows)["raw text"].startswith("1 file(s), 90 texts")


def test_min_count_drops_rare_words(raw):
    nlp, report, _ = train_and_convert("en", raw, None, tiny(min_count=40))
    assert nlp.vocab.has_vector("the") and not nlp.vocab.has_vector("rain")


def test_fasttext_vectors(raw):
    nlp, report, _ = train_and_convert("en", raw, None, tiny(algorithm="fasttext"))
    assert report.format == "fasttext" and nlp.vocab.has_vector("cat")


def test_floret_vectors_cover_unseen_words(raw):
    pytest.importorskip("floret")
    nlp, report, _ = train_and_convert("en", raw, None, tiny(algorithm="floret"))
    vectors = nlp.vocab.vectors
    assert vectors.mode == "floret" and vectors.shape == (500, 8)
    assert numpy.abs(nlp.vocab.get_vector("catnap")).sum() > 0


def test_prune_and_name_apply_to_trained_vectors(raw, tmp_path):
    import spacy

    out = tmp_path / "out"
    train_and_convert("en", raw, out, tiny(), prune=5, name="en_tiny.vectors")
    nlp = spacy.load(out)
    assert nlp.vocab.vectors.shape[0] == 5 and nlp.vocab.vectors.name == "en_tiny.vectors"
    assert nlp.vocab.has_vector("rain")  # mapped to its nearest kept row


@pytest.mark.parametrize(
    "settings,message",
    [
        (dict(algorithm="glove"), "Unknown --algorithm"),
        (dict(arch="bert"), "Unknown --arch"),
        (dict(dims=0), "--dims must be at least 1"),
    ],
)
def test_bad_settings(raw, settings, message):
    with pytest.raises(UserError, match=message):
        train_and_convert("en", raw, None, tiny(**settings))


def test_missing_and_empty_raw_text(tmp_path):
    with pytest.raises(UserError, match="Raw text not found"):
        train_and_convert("en", tmp_path / "nope.txt", None, tiny())
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(UserError, match="no tokens"):
        train_and_convert("en", empty, None, tiny())


def test_no_word_frequent_enough(raw):
    with pytest.raises(UserError, match="No word occurs 1000 times"):
        train_and_convert("en", raw, None, tiny(min_count=1000))


def test_analogy_scoring_on_planted_vectors():
    words = ["king", "queen", "man", "woman", "paris", "france", "berlin", "germany"]
    royal, female, capital = numpy.eye(3)
    base = {
        "king": royal,
        "queen": royal + female,
        "man": 0 * royal,
        "woman": female,
        "paris": capital,
        "france": capital + 2 * royal,
        "berlin": capital + female * 0.1,
        "germany": capital + 2 * royal + 0.1 * female,
    }
    matrix = numpy.stack([base[w] + 0.01 * i for i, w in enumerate(words)]).astype(numpy.float32)
    result = analogy_accuracy(
        words,
        matrix,
        [("man", "woman", "king", "queen"), ("Paris", "France", "Berlin", "Germany"), ("a", "b", "c", "d")],
    )
    assert (result.correct, result.answered, result.total) == (2, 2, 3)


def test_vectors_from_real_text_solve_analogies_above_chance(shared_data):
    # 400k tokens of State of the Union addresses; the benchmark trains on all raw text.
    nlp, _, _ = train_and_convert(
        "en",
        shared_data / "raw_text" / "nltk_state_union",
        None,
        TrainSettings(dims=50, epochs=5, min_count=5, workers=2),
    )
    result = vocab_analogy_accuracy(nlp.vocab, shared_data / "word2vec_analogy" / "questions-words.txt")
    assert result.answered > 1000
    assert result.accuracy > 20 * result.chance and result.accuracy > 0.005, result
    assert len(read_questions(shared_data / "word2vec_analogy" / "questions-words.txt")) == 19544


def test_no_word_frequent_enough_for_floret(raw):
    pytest.importorskip("floret")
    with pytest.raises(UserError, match="No word occurs 1000 times"):
        train_and_convert("en", raw, None, tiny(algorithm="floret", min_count=1000))
