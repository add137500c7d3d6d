"""The teacher's annotations: cached in shards with soft targets, resumed, checked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy
import pytest
import spacy
import srsly
from spacy.tokens import DocBin

from spacy_transfer.core.distill import SOFT_KEY, annotate_raw_text
from spacy_transfer.core.distill.teacher import fingerprint
from spacy_transfer.core.distill.transitions import class_names, follow
from spacy_transfer.errors import UserError

from .conftest import raw_texts, trained_spancat, write_raw


def _annotate(setup, raw, cache, **kw):
    teacher = spacy.load(setup.teacher)
    return annotate_raw_text(
        teacher,
        raw,
        cache,
        fingerprint=fingerprint(setup.teacher),
        components=["tagger", "parser", "ner"],
        **kw,
    )


def _texts(cache, manifest):
    vocab = spacy.blank("en").vocab
    return [d.text for s in manifest.shards for d in DocBin().from_disk(cache / s["file"]).get_docs(vocab)]


def test_shards_hold_the_teachers_predictions_and_its_top_k_tag_probabilities(distill_setup, tmp_path):
    manifest = _annotate(
        distill_setup, distill_setup.raw, tmp_path / "cache", k=3, shard_size=50, batch_size=25
    )
    assert manifest.finished and manifest.docs_done == 120
    assert [s["docs"] for s in manifest.shards] == [50, 50, 20]
    teacher = spacy.load(distill_setup.teacher)
    docs = list(DocBin().from_disk(tmp_path / "cache" / "shard-00000.spacy").get_docs(teacher.vocab))
    predicted = list(teacher.pipe(d.text for d in docs[:5]))
    for silver, pred in zip(docs, predicted):
        assert [t.tag_ for t in silver] == [t.tag_ for t in pred]
        assert [t.head.i for t in silver] == [t.head.i for t in pred]
        assert [(e.start, e.end, e.label_) for e in silver.ents] == [
            (e.start, e.end, e.label_) for e in pred.ents
        ]
        soft = silver.user_data[SOFT_KEY]["tagger"]
        assert soft["i"].shape == (len(silver), 3) and soft["p"].dtype == numpy.float16
        labels = manifest.labels["tagger"]
        assert [labels[i] for i in soft["i"][:, 0]] == [t.tag_ for t in silver]  # top-1 is the prediction
        assert set(silver.user_data) == {SOFT_KEY}  # no transformer outputs or tensors cached
    assert manifest.labels["parser"] == class_names(teacher.get_pipe("parser"))  # actions, not labels


@pytest.mark.parametrize("name", ["parser", "ner"])
def test_parser_and_ner_targets_are_the_teachers_actions_state_by_state(distill_setup, tmp_path, name):
    """Taking the stored actions from the start state rebuilds the teacher's parse (or
    entities); each state stores the teacher's likeliest actions, best first."""
    manifest = _annotate(distill_setup, distill_setup.raw, tmp_path / "cache", k=4, shard_size=60)
    teacher = spacy.load(distill_setup.teacher)
    proc = teacher.get_pipe(name)
    silver_docs = list(DocBin().from_disk(tmp_path / "cache" / "shard-00000.spacy").get_docs(teacher.vocab))
    for silver in silver_docs[:20]:
        soft = silver.user_data[SOFT_KEY][name]
        n = soft["n"].astype(int)
        assert len(n) == len(soft["a"]) and n.sum() == len(soft["i"]) == len(soft["p"])
        assert (1 <= n).all() and (n <= 4).all()
        p = numpy.split(soft["p"].astype("float32"), numpy.cumsum(n)[:-1])
        assert all((numpy.diff(row) <= 0).all() and row.sum() <= 1.01 for row in p)
        doc = teacher.make_doc(silver.text)
        (state,) = proc.moves.init_batch([doc])
        for action in soft["a"].tolist():
            assert not state.is_final()
            follow(proc, [state], [action])
        assert state.is_final()
        proc.set_annotations([doc], [state])
        if name == "parser":
            assert [(t.head.i, t.dep_) for t in doc] == [(t.head.i, t.dep_) for t in silver]
        else:
            assert [(e.start, e.end, e.label_) for e in doc.ents] == [
                (e.start, e.end, e.label_) for e in silver.ents
            ]
    assert manifest.labels[name] == class_names(proc)


def test_hard_transitions_store_the_parse_only(distill_setup, tmp_path):
    manifest = _annotate(distill_setup, distill_setup.raw, tmp_path / "cache", transitions=False)
    assert "parser" not in manifest.labels and "ner" not in manifest.labels and "tagger" in manifest.labels
    silver = next(
        DocBin().from_disk(tmp_path / "cache" / "shard-00000.spacy").get_docs(spacy.blank("en").vocab)
    )
    assert set(silver.user_data[SOFT_KEY]) == {"tagger"} and silver.has_annotation("DEP")


def test_a_finished_cache_is_reused_without_annotating_again(distill_setup, tmp_path):
    _annotate(distill_setup, distill_setup.raw, tmp_path / "cache", shard_size=60)
    before = (tmp_path / "cache" / "shard-00000.spacy").stat().st_mtime_ns
    again = _annotate(distill_setup, distill_setup.raw, tmp_path / "cache", shard_size=60)
    assert again.docs_done == 120
    assert (tmp_path / "cache" / "shard-00000.spacy").stat().st_mtime_ns == before


def test_asking_for_more_documents_than_a_finished_cache_holds_extends_it(distill_setup, tmp_path):
    cache = tmp_path / "cache"
    first = _annotate(distill_setup, distill_setup.raw, cache, shard_size=30, max_docs=50)
    assert first.finished and first.docs_done == 50 and not first.exhausted
    kept = (cache / "shard-00000.spacy").read_bytes()
    more = _annotate(distill_setup, distill_setup.raw, cache, shard_size=30, max_docs=0)
    assert more.finished and more.exhausted and more.docs_done == 120
    assert [s["docs"] for s in more.shards] == [30, 20, 30, 30, 10]
    assert (cache / "shard-00000.spacy").read_bytes() == kept  # the first pass's shards stay
    straight = _annotate(distill_setup, distill_setup.raw, tmp_path / "straight", shard_size=30)
    # the extension took up the raw text where the first pass stopped
    assert _texts(cache, more) == _texts(tmp_path / "straight", straight)
    before = (cache / "shard-00004.spacy").stat().st_mtime_ns
    assert _annotate(distill_setup, distill_setup.raw, cache, shard_size=30, max_docs=500).docs_done == 120
    assert (cache / "shard-00004.spacy").stat().st_mtime_ns == before  # the raw text has no more


def test_a_cache_larger_than_asked_counts_only_its_first_documents(distill_setup, tmp_path):
    cache = tmp_path / "cache"
    manifest = _annotate(distill_setup, distill_setup.raw, cache, shard_size=50)
    assert _annotate(distill_setup, distill_setup.raw, cache, shard_size=50, max_docs=70).docs_done == 120
    teacher = spacy.load(distill_setup.teacher)
    docs = [d for s in manifest.shards for d in DocBin().from_disk(cache / s["file"]).get_docs(teacher.vocab)]
    assert manifest.first(cache, 70) == {"docs": 70, "words": sum(len(d) for d in docs[:70])}
    assert manifest.first(cache, 0) == {"docs": 120, "words": manifest.words}


def test_an_annotation_killed_midway_resumes_where_it_stopped(distill_setup, shared_data, tmp_path):
    raw = write_raw(tmp_path / "raw.jsonl", raw_texts(shared_data, 3000))
    cache = tmp_path / "cache"
    script = (
        "import spacy, sys; from pathlib import Path;"
        "from spacy_transfer.core.distill import annotate_raw_text;"
        "from spacy_transfer.core.distill.teacher import fingerprint;"
        f"t = Path({str(distill_setup.teacher)!r});"
        f"annotate_raw_text(spacy.load(t), Path({str(raw)!r}), Path({str(cache)!r}), fingerprint=fingerprint(t),"
        " components=['tagger','parser','ner'], shard_size=100, batch_size=50)"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while time.time() < deadline:
        manifest = cache / "manifest.json"
        if manifest.exists() and srsly.read_json(manifest)["docs_done"] >= 200:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = srsly.read_json(cache / "manifest.json")
    assert 200 <= done["docs_done"] < 3000 and not done["finished"]
    resumed = _annotate(distill_setup, raw, cache, shard_size=100, batch_size=50)
    straight = _annotate(distill_setup, raw, tmp_path / "straight", shard_size=100, batch_size=50)
    assert resumed.docs_done == straight.docs_done == 3000
    for shard in straight.shards:
        assert (cache / shard["file"]).read_bytes() == (tmp_path / "straight" / shard["file"]).read_bytes()


def test_a_cache_made_by_another_teacher_or_from_other_text_is_refused(distill_setup, shared_data, tmp_path):
    cache = tmp_path / "cache"
    _annotate(distill_setup, distill_setup.raw, cache)
    teacher = spacy.load(distill_setup.teacher)
    with pytest.raises(UserError, match="does not fit") as err:
        annotate_raw_text(teacher, distill_setup.raw, cache, fingerprint="0" * 16, components=["tagger"])
    assert "another teacher" in str(err.value.rows)
    other = write_raw(tmp_path / "other.jsonl", raw_texts(shared_data, 10))
    with pytest.raises(UserError, match="does not fit") as err:
        _annotate(distill_setup, other, cache)
    assert "other raw text" in str(err.value.rows)


def test_empty_raw_text_is_a_clear_error(distill_setup, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(UserError, match="no documents"):
        _annotate(distill_setup, empty, tmp_path / "cache")


def test_morphologizer_and_senter_get_soft_targets_that_match_their_predictions(
    training_corpora, shared_data, tmp_path
):
    from tests.conftest import run_cli

    cfg = tmp_path / "teacher.cfg"
    assert run_cli("init", "config", str(cfg), "--pipeline", "morphologizer,senter", "--force").exit_code == 0
    result = run_cli(
        "train", str(cfg), "--output", str(tmp_path / "t"), "--paths.train", str(training_corpora.ud_train),
        "--paths.dev", str(training_corpora.ud_dev), "--training.max_steps", "10", "--training.eval_frequency", "5",
        "--components.tok2vec.model.encode.depth", "1", "--components.tok2vec.model.encode.width", "32",
        "--components.tok2vec.model.embed.width", "32",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    path = tmp_path / "t" / "model-best"
    teacher = spacy.load(path)
    raw = write_raw(tmp_path / "raw.jsonl", raw_texts(shared_data, 30))
    manifest = annotate_raw_text(
        teacher,
        raw,
        tmp_path / "cache",
        fingerprint=fingerprint(path),
        components=["morphologizer", "senter"],
        k=2,
    )
    assert set(manifest.labels) == {"morphologizer", "senter"}
    docs = list(DocBin().from_disk(tmp_path / "cache" / "shard-00000.spacy").get_docs(teacher.vocab))
    for silver, pred in zip(docs, teacher.pipe(d.text for d in docs)):
        assert [str(t.morph) for t in silver] == [str(t.morph) for t in pred]
        assert [t.is_sent_start for t in silver] == [t.is_sent_start for t in pred]
        senter = silver.user_data[SOFT_KEY]["senter"]
        top = [manifest.labels["senter"][i] for i in senter["i"][:, 0]]
        assert [label == "S" for label in top][1:] == [bool(t.is_sent_start) for t in silver][1:]


@pytest.mark.parametrize("factory", ["spancat", "spancat_singlelabel"])
def test_spancat_soft_targets_are_the_teachers_scores_of_its_likely_candidates(
    factory, shared_data, tmp_path
):
    from spacy_transfer.core.distill.soft import SPAN_MIN_P

    path = trained_spancat(factory, tmp_path / "teacher")
    teacher = spacy.load(path)
    raw = write_raw(tmp_path / "raw.jsonl", raw_texts(shared_data, 20))
    manifest = annotate_raw_text(
        teacher, raw, tmp_path / "cache", fingerprint=fingerprint(path), components=[factory], k=2
    )
    assert manifest.labels == {factory: ["PER"]}
    proc = teacher.get_pipe(factory)
    docs = list(DocBin().from_disk(tmp_path / "cache" / "shard-00000.spacy").get_docs(teacher.vocab))
    stored_any = False
    for silver in docs:
        pred = teacher(silver.text)
        key = proc.key
        assert [(s.start, s.end, s.label_) for s in silver.spans[key]] == [
            (s.start, s.end, s.label_) for s in pred.spans[key]
        ]
        indices, scores = proc.predict([teacher.make_doc(silver.text)])
        scores = proc.model.ops.to_numpy(scores)
        row_of = {tuple(se): r for r, se in enumerate(proc.model.ops.to_numpy(indices.data).tolist())}
        soft = silver.user_data[SOFT_KEY][factory]
        assert soft["s"].shape[0] == soft["i"].shape[0] == soft["p"].shape[0]
        for (start, end), idx, p in zip(soft["s"].tolist(), soft["i"], soft["p"]):
            row = scores[row_of[(start, end)]]
            assert row[0] >= SPAN_MIN_P  # only candidates the teacher thinks may be a PER
            assert numpy.allclose(p.astype("float32"), row[idx], atol=2e-3)
            stored_any = True
        unstored = [r for se, r in row_of.items() if se not in {tuple(x) for x in soft["s"].tolist()}]
        assert all(scores[r, 0] < SPAN_MIN_P for r in unstored)
    assert stored_any
