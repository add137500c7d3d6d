"""The distillation reader: every silver example once per epoch, gold mixed in at a ratio."""

from __future__ import annotations

import pytest
import spacy
import srsly
from spacy.tokens import DocBin

from spacy_transfer.core.distill.reader import DistillCorpus
from spacy_transfer.errors import UserError


def _cache(tmp_path, nlp, shards):
    entries = []
    for i, texts in enumerate(shards):
        name = f"shard-{i:05d}.spacy"
        DocBin(docs=[nlp.make_doc(t) for t in texts]).to_disk(tmp_path / name)
        entries.append({"file": name, "docs": len(texts), "words": 0})
    srsly.write_json(tmp_path / "manifest.json", {"shards": entries})
    return tmp_path


def _gold(tmp_path, nlp, texts):
    path = tmp_path / "gold.spacy"
    DocBin(docs=[nlp.make_doc(t) for t in texts]).to_disk(path)
    return path


def test_gold_makes_the_asked_share_of_the_stream_and_is_cycled(tmp_path):
    nlp = spacy.blank("en")
    silver = _cache(tmp_path, nlp, [[f"silver {i}" for i in range(6)]])
    gold = _gold(tmp_path, nlp, ["gold a", "gold b"])
    texts = [eg.reference.text for eg in DistillCorpus(silver, gold, gold_fraction=0.5)(nlp)]
    assert texts.count("gold a") + texts.count("gold b") == 6 and len(texts) == 12
    assert texts[:4] == ["silver 0", "gold a", "silver 1", "gold b"]
    quarter = [eg.reference.text for eg in DistillCorpus(silver, gold, gold_fraction=0.25)(nlp)]
    assert sum(t.startswith("gold") for t in quarter) == 2


def test_the_share_is_one_of_words_so_long_gold_documents_come_less_often(tmp_path):
    nlp = spacy.blank("en")
    silver = _cache(tmp_path, nlp, [[f"silver {i}" for i in range(10)]])  # 2 words each
    gold = _gold(tmp_path, nlp, ["one two three four five six seven eight nine ten"])
    stream = [eg.reference for eg in DistillCorpus(silver, gold, gold_fraction=0.5)(nlp)]
    is_silver = [doc.text.startswith("silver") for doc in stream]
    assert sum(len(d) for d, s in zip(stream, is_silver) if s) == 20
    assert sum(len(d) for d, s in zip(stream, is_silver) if not s) == 20  # the 10-word gold doc, twice
    assert is_silver[:7] == [True, False, True, True, True, True, True]


def test_without_gold_the_stream_is_the_silver_data_minus_excluded_shards(tmp_path):
    nlp = spacy.blank("en")
    silver = _cache(tmp_path, nlp, [["dev one"], ["train one", "train two"]])
    texts = [eg.reference.text for eg in DistillCorpus(silver, exclude=["shard-00000.spacy"])(nlp)]
    assert texts == ["train one", "train two"]


def test_a_limit_keeps_the_first_silver_documents_across_shards(tmp_path):
    nlp = spacy.blank("en")
    silver = _cache(tmp_path, nlp, [["one", "two"], ["three", "four"]])
    texts = [eg.reference.text for eg in DistillCorpus(silver, limit=3)(nlp)]
    assert texts == ["one", "two", "three"]


def test_a_fraction_of_one_or_a_missing_cache_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="below 1"):
        DistillCorpus(tmp_path, gold_fraction=1.0)
    with pytest.raises(UserError, match="No annotation cache"):
        DistillCorpus(tmp_path / "nowhere")


def test_a_shard_reads_back_as_docbin_gives_it_user_data_included(tmp_path):
    import numpy

    from spacy_transfer.core.distill.reader import read_shard

    nlp = spacy.blank("en")
    docs = [nlp.make_doc(t) for t in ("A first line .", "And a second one", "")]
    for i, doc in enumerate(docs[:2]):
        doc.user_data[("distill", "soft")] = {
            "tagger": {"ids": numpy.arange(6, dtype="int16").reshape(3, 2) + i}
        }
    path = tmp_path / "shard.spacy"
    DocBin(docs=docs, store_user_data=True).to_disk(path)
    ours = list(read_shard(path, nlp.vocab))
    theirs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
    assert [d.text for d in ours] == [d.text for d in theirs]
    for a, b in zip(ours, theirs):
        assert a.user_data.keys() == b.user_data.keys()
        for key in b.user_data:
            numpy.testing.assert_array_equal(
                a.user_data[key]["tagger"]["ids"], b.user_data[key]["tagger"]["ids"]
            )
    assert ours[1].user_data[("distill", "soft")]["tagger"]["ids"].dtype == numpy.int16
