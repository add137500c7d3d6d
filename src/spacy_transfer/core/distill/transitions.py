"""Soft targets for the transition-based components (parser, ner): the teacher's action
distribution at each state of its own parse.

spaCy's parser and ner take one action per state, scored by a softmax over all actions,
and learn from the set of zero-cost actions (a dynamic oracle on the gold annotation). The
teacher parses the raw text step by step, as its greedy parser does, and stores for each
state the action it took and its probabilities of ``TRANSITION_MIN_P`` or more (top k).
On a silver example the student follows the teacher's actions, so its states are the
teacher's, and gets at each state ``T · (p_T - q_T)`` on its action scores (the gradient of
``T² · KL``; at ``T = 1`` spaCy's own loss with the teacher's distribution as the truth).
Silver docs are cut into chunks of the same random length spaCy cuts gold docs into, so a
long document does not make a long batch. Gold examples in the same batch keep spaCy's
update (dynamic oracle, the student's own actions), through the same step model, as must
be: the listener's tok2vec output is for the whole batch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example, validate_examples
from thinc.api import set_dropout_rate

from ..upstream import parser_add_labels, parser_gold_batch, pipe_multitasks
from .soft import EPS, TRANSITION_LEVEL, ComponentUpdate, soft_gradient, soft_targets_of

TRANSITION_MIN_P = 0.01  # actions the teacher gives less than this are not stored
# The per-state targets are always learned at T = 1. Most states keep one action (the rest
# is under TRANSITION_MIN_P), so a higher T only softens the student against a one-hot
# target, which pushes its action scores apart T-fold: at T = 2 the tok2vec's gradient grew
# without bound within 1,000 steps in the benchmark (EWT + 72,000 raw docs), at T = 1 it did not.
TRANSITION_TEMPERATURE = 1.0


def class_names(proc: Any) -> List[str]:
    """The component's actions by class index ("S", "L-nsubj", "B-ORG", ...)."""
    return [proc.moves.get_class_name(i) for i in range(proc.moves.n_moves)]


def _softmax(scores: numpy.ndarray) -> numpy.ndarray:
    z = numpy.exp(scores - scores.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def host_array(array: Any) -> numpy.ndarray:
    """Scores on the host as float32 (cupy arrays copied back)."""
    return numpy.asarray(array.get() if hasattr(array, "get") else array, dtype="float32")


def _best_valid(moves: Any, names: List[str], state: Any, row: numpy.ndarray) -> int:
    """The action greedy parsing takes: the best-scored one that is valid in ``state``."""
    best = int(row.argmax())
    if moves.is_valid(state, names[best]):
        return best
    for clas in numpy.argsort(-row, kind="stable").tolist():
        if moves.is_valid(state, names[clas]):
            return clas
    return -1


def follow(proc: Any, states: List[Any], actions: Sequence[int]) -> None:
    """Take one given action in each state (``transition_states`` takes the best valid score)."""
    scores = numpy.zeros((len(states), proc.moves.n_moves), dtype="float32")
    rows = [r for r, a in enumerate(actions) if a >= 0]
    scores[rows, [actions[r] for r in rows]] = 1.0
    proc.transition_states(states, scores)


def teacher_transitions(proc: Any, docs: List[Doc], k: int) -> List[Dict[str, numpy.ndarray]]:
    """Parse ``docs`` as the teacher's greedy parser does, one step at a time, set the parse,
    and return each doc's targets: the action taken at each state (``a``), how many of its
    top-k probabilities are stored (``n``), and those (``i``, ``p``), all rows concatenated."""
    states = proc.moves.init_batch(docs)
    steps: List[List[Tuple[int, numpy.ndarray, numpy.ndarray]]] = [[] for _ in docs]
    if any(len(doc) for doc in docs):
        parser_add_labels(proc, docs)
        names = class_names(proc)
        model = proc.model.predict(docs)
        active = [j for j, state in enumerate(states) if not state.is_final()]
        while active:
            current = [states[j] for j in active]
            scores = host_array(model.predict(current))
            probs = _softmax(scores)
            idx = numpy.argsort(-probs, axis=1, kind="stable")[:, : max(1, min(k, probs.shape[1]))]
            top = numpy.take_along_axis(probs, idx, axis=1)
            kept = numpy.maximum((top >= TRANSITION_MIN_P).sum(axis=1), 1)
            chosen = [_best_valid(proc.moves, names, s, row) for s, row in zip(current, scores)]
            for r, j in enumerate(active):
                steps[j].append((chosen[r], idx[r, : kept[r]], top[r, : kept[r]]))
            follow(proc, current, chosen)
            active = [j for j in active if not states[j].is_final()]
        model.clear_memory()
    proc.set_annotations(docs, states)
    return [_pack(doc_steps) for doc_steps in steps]


def _pack(steps: List[Tuple[int, numpy.ndarray, numpy.ndarray]]) -> Dict[str, numpy.ndarray]:
    if not steps:
        empty = numpy.zeros((0,), dtype="int16")
        return {"a": empty, "n": empty.astype("uint8"), "i": empty, "p": empty.astype("float16")}
    return {
        "a": numpy.asarray([s[0] for s in steps], dtype="int16"),
        "n": numpy.asarray([len(s[1]) for s in steps], dtype="uint8"),
        "i": numpy.concatenate([s[1] for s in steps]).astype("int16"),
        "p": numpy.concatenate([s[2] for s in steps]).astype("float16"),
    }


@dataclass
class Silver:
    """One silver doc's targets in the student's classes: its actions and, per state, q_T."""

    actions: numpy.ndarray
    q: numpy.ndarray


def student_targets(
    soft: Dict[str, Any], mapping: numpy.ndarray, n_classes: int, T: float
) -> Optional[Silver]:
    """The teacher's targets over the student's classes, softened by ``T`` and renormalised
    over the stored actions; None when the student lacks an action the teacher took."""
    taken = numpy.asarray(soft["a"], dtype="int64")
    actions = mapping[taken] if len(taken) else taken
    if (actions < 0).any():
        return None
    n = numpy.asarray(soft["n"], dtype="int64")
    rows = numpy.repeat(numpy.arange(len(n)), n)
    cols = mapping[numpy.asarray(soft["i"], dtype="int64")] if len(rows) else rows
    p = numpy.asarray(soft["p"], dtype="float32")
    keep = cols >= 0
    q = numpy.zeros((len(actions), n_classes), dtype="float32")
    q[rows[keep], cols[keep]] = numpy.clip(p[keep], EPS, 1.0) ** (1.0 / T)
    total = q.sum(axis=1)
    q[total == 0, actions[total == 0]] = 1.0  # nothing stored that the student has: the action taken
    q /= q.sum(axis=1, keepdims=True)
    return Silver(actions, q)


@dataclass
class Chunk:
    state: Any
    doc: int  # the index of its doc among the batch's silver docs
    start: int  # the step of the doc's parse it starts at


def chunks(proc: Any, states: List[Any], targets: List[Silver], cut: int) -> List[Chunk]:
    """Start states of the silver docs' parses cut every ``cut`` steps (no cut when 0),
    reached by following the teacher's actions."""
    out: List[Chunk] = []
    long = [j for j, t in enumerate(targets) if cut and len(t.actions) > cut]
    for j, (state, t) in enumerate(zip(states, targets)):
        if len(t.actions) and not state.is_final():
            out.append(Chunk(state.copy() if j in long else state, j, 0))
    step = 0
    while long:
        follow(proc, [states[j] for j in long], [int(targets[j].actions[step]) for j in long])
        step += 1
        long = [j for j in long if not states[j].is_final() and step < len(targets[j].actions)]
        if step % cut == 0:
            out += [Chunk(states[j].copy(), j, step) for j in long]
    return out


def _blank(doc: Doc) -> Doc:
    """A reference with the words and nothing else: spaCy's oracle skips the example."""
    return Doc(doc.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc])


def _silver_targets(
    proc: Any, examples: List[Example], mapping: numpy.ndarray, T: float
) -> Dict[int, Silver]:
    out = {}
    for i, eg in enumerate(examples):
        soft = soft_targets_of(eg, proc.name)
        if soft is not None and len(eg.x) == len(eg.y):
            target = student_targets(soft, mapping, proc.moves.n_moves, T)
            if target is not None:
                out[i] = target
    return out


def _gold_states(
    proc: Any, examples: List[Example], silver: Dict[int, Silver], cut: int
) -> Tuple[list, list]:
    masked = [Example(eg.x, _blank(eg.x)) if i in silver else eg for i, eg in enumerate(examples)]
    if cut:
        states, golds, _ = parser_gold_batch(proc, masked, cut)
    else:
        states, golds, _ = proc.moves.init_gold_batch(masked)
    return list(states), list(golds)


def _soft_rows(
    scores: numpy.ndarray, part: List[Chunk], targets: List[Silver], n: int, T: float
) -> Tuple[float, Any]:
    q = numpy.stack([targets[c.doc].q[c.start + n] for c in part])
    return soft_gradient(_softmax(scores), q, T, False, numpy)


def transition_update(proc: Any, mapping_of: Callable[[], numpy.ndarray], T: float) -> ComponentUpdate:
    """The component's update with soft targets for silver examples (see the module); the
    optimizer step is the caller's."""

    def update(examples: List[Example], *, drop: float, losses: Dict[str, float]) -> None:
        if proc.cfg["beam_width"] >= 2 or not any(
            soft_targets_of(eg, proc.name) is not None for eg in examples
        ):
            proc.update(examples, drop=drop, sgd=None, losses=losses)  # spaCy's own, gold only
            return
        losses.setdefault(proc.name, 0.0)
        validate_examples(examples, "Parser.update")
        parser_add_labels(proc, [eg.x for eg in examples] + [eg.y for eg in examples])
        silver = _silver_targets(proc, examples, mapping_of(), T)  # the labels above may add moves
        if not silver:
            proc.update(examples, drop=drop, sgd=None, losses=losses)
            return
        for multitask in pipe_multitasks(proc):
            multitask.update(examples, drop=drop, sgd=None)
        set_dropout_rate(proc.model, drop)
        max_moves = proc.cfg["update_with_oracle_cut_size"]
        cut = int(random.uniform(max_moves // 2, max_moves * 2)) if max_moves >= 1 else 0
        gold_states, golds = _gold_states(proc, examples, silver, cut)
        starts = proc.moves.init_batch([eg.x for eg in examples])  # offsets into the whole batch
        order = sorted(silver)
        targets = [silver[i] for i in order]
        part = chunks(proc, [starts[i] for i in order], targets, cut)
        # The teacher's actions count as seen, as a zero-cost gold action does in spaCy's loss.
        proc.model.attrs["unseen_classes"].difference_update(int(a) for t in targets for a in t.actions)
        model, backprop_tok2vec = proc.model.begin_update([eg.x for eg in examples])
        n = 0
        while gold_states or part:
            ng = len(gold_states)
            scores, backprop = model.begin_update(gold_states + [c.state for c in part])
            d_scores = numpy.zeros(scores.shape, dtype="float32")
            if ng:
                d_scores[:ng] = proc.get_batch_loss(gold_states, golds, scores[:ng], losses)
                proc.transition_states(gold_states, numpy.ascontiguousarray(scores[:ng]))
            if part:
                loss, d_scores[ng:] = _soft_rows(host_array(scores[ng:]), part, targets, n, T)
                losses[proc.name] += loss
                follow(
                    proc, [c.state for c in part], [int(targets[c.doc].actions[c.start + n]) for c in part]
                )
            backprop(d_scores)
            n += 1
            kept = [(s, g) for s, g in zip(gold_states, golds) if not s.is_final()]
            gold_states, golds = [s for s, _ in kept], [g for _, g in kept]
            part = [c for c in part if not c.state.is_final() and c.start + n < len(targets[c.doc].actions)]
            if cut and n > cut:
                break
        backprop_tok2vec(golds)
        model.clear_memory()

    return update


def _mapping_cache(proc: Any, teacher: List[str]) -> Callable[[], numpy.ndarray]:
    """The student's class for each of the teacher's actions (-1: none), again when the
    student's moves grow (a new label turns up in the data)."""
    index: Dict[int, numpy.ndarray] = {}

    def mapping_of() -> numpy.ndarray:
        if proc.moves.n_moves not in index:
            student = {a: i for i, a in enumerate(class_names(proc))}
            index.clear()
            index[proc.moves.n_moves] = numpy.asarray([student.get(a, -1) for a in teacher], dtype="int64")
        return index[proc.moves.n_moves]

    return mapping_of


def transition_updates(
    nlp: Language, teacher_actions: Dict[str, List[str]], T: float
) -> Dict[str, ComponentUpdate]:
    """The soft-target update of each of the student's parsers and ners that the teacher
    annotated, by name. Each updates from the same tok2vec outputs as the rest of the
    pipeline (the listeners keep the batch's)."""
    return {
        name: transition_update(proc, _mapping_cache(proc, teacher_actions[name]), T)
        for name, proc in nlp.pipeline
        if nlp.get_pipe_meta(name).factory in TRANSITION_LEVEL and name in teacher_actions
    }
