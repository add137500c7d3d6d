"""Pruning a trained pipeline's string store to what it needs, checked on sample texts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.language import Language

from spacy_transfer.core.distill.strings import STRINGS, annotations, prune_strings
from tests.core.distill.conftest import distill_setup, raw_texts  # noqa: F401  (fixture)

SAMPLE = ["Mr Knightley walked to Highbury on Tuesday.", "She paid $40 for the new piano in London."]


def _strings(path: Path) -> set:
    return set(json.loads((path / STRINGS).read_text()))


def test_the_words_of_texts_seen_in_training_are_dropped_and_the_annotations_stay(
    distill_setup,
    shared_data,
    tmp_path,  # noqa: F811
):
    nlp = spacy.load(distill_setup.teacher)
    list(nlp.pipe(raw_texts(shared_data, 50)))  # as training does: every word lands in the strings
    path = tmp_path / "model"
    nlp.to_disk(path)
    before, expected = _strings(path), annotations(nlp, SAMPLE)
    assert "Woodhouse" in before
    assert prune_strings(path, SAMPLE) is None
    after = _strings(path)
    assert "Woodhouse" not in after and len(after) < len(before) / 3
    assert set(nlp.get_pipe("tagger").labels) | set(nlp.get_pipe("ner").labels) <= after
    assert annotations(spacy.load(path), SAMPLE) == expected
    assert annotations(spacy.load(path), SAMPLE) == expected  # and again: nothing accumulates on disk


class HashStamp:
    """Sets the first token's tag to a hash it keeps in its own file, without the string:
    the kind of component whose string only the full store has."""

    def __init__(self, vocab) -> None:
        self.vocab, self.tag = vocab, 0

    def initialize(self, get_examples=None, nlp=None) -> None:
        self.tag = self.vocab.strings.add("STAMPED")

    def __call__(self, doc):
        doc[0].tag = self.tag
        return doc

    def to_disk(self, path, exclude=()) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        srsly.write_json(Path(path) / "cfg", {"tag": self.tag})

    def from_disk(self, path, exclude=()):
        self.tag = srsly.read_json(Path(path) / "cfg")["tag"]
        return self


@Language.factory("test_hash_stamp")
def make_hash_stamp(nlp: Language, name: str) -> HashStamp:
    return HashStamp(nlp.vocab)


def test_a_cut_that_loses_a_needed_string_is_refused_and_the_store_kept(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("test_hash_stamp")
    nlp.initialize()
    path = tmp_path / "model"
    nlp.to_disk(path)
    before = (path / STRINGS).read_bytes()
    problem = prune_strings(path, SAMPLE)
    assert problem is not None and "misses a string" in problem
    assert (path / STRINGS).read_bytes() == before
    assert spacy.load(path)(SAMPLE[0])[0].tag_ == "STAMPED"


@pytest.mark.parametrize("lang", ["en", "de"])
def test_a_pipeline_with_nothing_to_cut_is_left_alone(tmp_path, lang):
    path = tmp_path / "model"
    spacy.blank(lang).to_disk(path)
    before = (path / STRINGS).read_bytes()
    assert prune_strings(path, SAMPLE) is None
    assert (path / STRINGS).read_bytes() == before


def test_the_static_vectors_keys_keep_their_strings(tmp_path):
    import numpy

    nlp = spacy.blank("en")
    for i, word in enumerate(["piano", "Highbury"]):
        nlp.vocab.set_vector(word, numpy.full((4,), i, dtype="float32"))
    nlp("Woodhouse read quietly")
    path = tmp_path / "model"
    nlp.to_disk(path)
    assert prune_strings(path, SAMPLE) is None
    after = _strings(path)
    assert {"piano", "Highbury"} <= after and "Woodhouse" not in after
    loaded = spacy.load(path)
    assert [loaded.vocab.strings[key] for key in loaded.vocab.vectors.keys()] == ["piano", "Highbury"]
