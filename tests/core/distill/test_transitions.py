"""Parser and ner soft targets: the teacher's actions state by state, and a student that
learns its parses from them alone."""

from __future__ import annotations

import numpy
import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import fix_random_seed

from spacy_transfer.core.distill import SOFT_KEY, DistillUpdate
from spacy_transfer.core.distill.transitions import (
    chunks,
    class_names,
    follow,
    student_targets,
)
from spacy_transfer.core.recipe import Reporter


def test_the_teachers_distribution_is_mapped_onto_the_students_classes_and_softened():
    # teacher classes 0..3 are the student's 2, 0, 3 and (none)
    mapping = numpy.asarray([2, 0, 3, -1])
    soft = {
        "a": numpy.asarray([0, 2], dtype="int16"),
        "n": numpy.asarray([3, 1], dtype="uint8"),
        "i": numpy.asarray([0, 3, 1, 2], dtype="int16"),
        "p": numpy.asarray([0.6, 0.3, 0.1, 1.0], dtype="float16"),
    }
    t = student_targets(soft, mapping, 4, T=1.0)
    assert t.actions.tolist() == [2, 3]
    # the mass on the action the student lacks is dropped, the rest renormalised
    numpy.testing.assert_allclose(t.q, [[1 / 7, 0, 6 / 7, 0], [0, 0, 0, 1]], atol=1e-3)
    hot = student_targets(soft, mapping, 4, T=2.0).q[0]
    numpy.testing.assert_allclose(
        hot[[0, 2]] / hot[[0, 2]].sum(), numpy.sqrt([0.1, 0.6]) / numpy.sqrt([0.1, 0.6]).sum(), atol=1e-3
    )
    soft["a"] = numpy.asarray([3, 2], dtype="int16")  # the teacher took an action the student lacks
    assert student_targets(soft, mapping, 4, T=1.0) is None


@pytest.fixture(scope="module")
def gold(training_corpora) -> dict:
    """UD EWT (parses) and UNER (entities) slices, as Examples."""
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    out = {}
    for name, path in (("parser", training_corpora.ud_train), ("ner", training_corpora.uner_train)):
        docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))[:20]
        out[name] = [Example(nlp.make_doc(doc.text), doc) for doc in docs]
    out["vocab"] = nlp.vocab  # the students share it: the gold labels' strings are there
    return out


def _student(name: str, gold: dict):
    fix_random_seed(0)  # spaCy cuts long docs at random lengths
    examples = gold[name]
    nlp = spacy.blank("en", vocab=gold["vocab"])
    proc = nlp.add_pipe(name)
    proc.initialize(lambda: examples, nlp=nlp)
    return nlp, proc, nlp.create_optimizer()


def _distill_update(nlp, name: str, proc) -> DistillUpdate:
    """The training loop's update with the teacher's actions as targets for ``name``."""
    student = DistillUpdate({name: class_names(proc)}, temperature=1.0, transition_temperature=1.0)
    student.bind(nlp, Reporter(enabled=False))
    return student


def _oracle_silver(proc, examples: list) -> list:
    """Silver examples whose targets are a sure teacher's: at each state of the gold
    parse, probability 1 on the oracle's action. The reference keeps the words only,
    so spaCy's own loss has nothing to learn from."""
    out = []
    for eg in examples:
        actions = numpy.asarray(proc.moves.get_oracle_sequence(eg), dtype="int16")
        ref = Doc(eg.x.vocab, words=[t.text for t in eg.x], spaces=[bool(t.whitespace_) for t in eg.x])
        ones = numpy.ones(len(actions))
        soft = {"a": actions, "n": ones.astype("uint8"), "i": actions, "p": ones.astype("float16")}
        ref.user_data[SOFT_KEY] = {proc.name: soft}
        out.append(Example(eg.x.copy(), ref))
    return out


def test_chunks_start_where_the_teachers_parse_is_cut(gold):
    nlp, proc, _ = _student("parser", gold)
    examples = _oracle_silver(proc, gold["parser"][:8])
    identity = numpy.arange(proc.moves.n_moves)
    targets = [
        student_targets(eg.y.user_data[SOFT_KEY]["parser"], identity, proc.moves.n_moves, 1.0)
        for eg in examples
    ]
    states = proc.moves.init_batch([eg.x for eg in examples])
    part = chunks(proc, states, targets, cut=7)
    for j, t in enumerate(targets):
        assert [c.start for c in part if c.doc == j] == list(range(0, len(t.actions), 7))
    for c in part:  # from each start, the rest of the teacher's actions end the parse
        for a in targets[c.doc].actions[c.start :].tolist():
            assert not c.state.is_final()
            follow(proc, [c.state], [a])
        assert c.state.is_final()


def _agreement(nlp, examples: list, name: str) -> float:
    """LAS, or entity F, of the student's predictions against the examples' gold."""
    docs = list(nlp.pipe(eg.x.text for eg in examples))
    if name == "parser":
        pairs = [
            ((a.head.i, a.dep_), (b.head.i, b.dep_))
            for eg, doc in zip(examples, docs)
            for a, b in zip(eg.y, doc)
        ]
        return sum(x == y for x, y in pairs) / len(pairs)
    want = {(i, e.start, e.end, e.label_) for i, eg in enumerate(examples) for e in eg.y.ents}
    got = {(i, e.start, e.end, e.label_) for i, doc in enumerate(docs) for e in doc.ents}
    return 2 * len(want & got) / max(len(want) + len(got), 1)


@pytest.mark.parametrize("name", ["parser", "ner"])
def test_a_student_learns_the_teachers_parses_from_soft_targets_alone(gold, name):
    nlp, proc, optimizer = _student(name, gold)
    silver = _oracle_silver(proc, gold[name])
    before = _agreement(nlp, gold[name], name)
    student = _distill_update(nlp, name, proc)
    assert student.transitions == [name]
    for _ in range(12):
        for start in range(0, len(silver), 4):
            losses: dict = {}
            student(nlp, silver[start : start + 4], sgd=optimizer, drop=0.0, losses=losses)
    assert losses[name] > 0  # in the dict passed, as spaCy's components report theirs
    after = _agreement(nlp, gold[name], name)
    assert after > max(before, 0.6), (before, after)


def _train_mixed(gold: dict, with_gold: bool) -> float:
    examples = gold["parser"]
    nlp, proc, optimizer = _student("parser", gold)
    silver = _oracle_silver(proc, examples[:10])
    student = _distill_update(nlp, "parser", proc)
    for _ in range(12):
        for start in range(0, 10, 2):  # each batch: two silver docs (and two gold ones)
            batch = silver[start : start + 2] + (examples[10 + start : 12 + start] if with_gold else [])
            student(nlp, batch, sgd=optimizer, drop=0.0, losses={})
    return _agreement(nlp, examples[:10], "parser"), _agreement(nlp, examples[10:], "parser")


def test_gold_and_silver_examples_learn_together_in_one_batch(gold):
    """Gold examples keep spaCy's own update (no soft targets), beside silver ones: with
    them in the batches the student parses the gold docs better than from silver alone."""
    silver_las, gold_las = _train_mixed(gold, with_gold=True)
    _, gold_las_without = _train_mixed(gold, with_gold=False)
    assert silver_las > 0.5 and gold_las > gold_las_without + 0.1, (silver_las, gold_las, gold_las_without)
