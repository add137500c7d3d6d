"""The batch stream keeps spaCy's order and can be put back exactly where it was."""

from __future__ import annotations

import random

import spacy
from spacy.training import Example
from thinc.api import compounding, fix_random_seed

from spacy_transfer.core.training.batches import TrainBatches


def corpus_of(n: int):
    nlp = spacy.blank("en")
    examples = [
        Example(
            nlp.make_doc(f"sentence {i} " + "word " * (i % 7)),
            nlp.make_doc(f"sentence {i} " + "word " * (i % 7)),
        )
        for i in range(n)
    ]
    return nlp, (lambda nlp: iter(examples))


def batcher_with_schedule():
    # A batch-size schedule that keeps running across epochs, as spaCy's compounding does.
    sizes = compounding(2.0, 9.0, 1.3)

    def batch(examples):
        examples = list(examples)
        while examples:
            size = int(next(sizes))
            yield examples[:size]
            examples = examples[size:]

    return batch


def texts(batch):
    return [eg.reference.text for eg in batch]


def test_shuffles_per_epoch_like_spacy():
    nlp, corpus = corpus_of(10)
    fix_random_seed(1)
    ours = [(e, texts(b)) for e, b in TrainBatches(nlp, corpus, lambda xs: [list(xs)], max_epochs=3)]
    fix_random_seed(1)
    examples = list(corpus(nlp))
    expected = []
    for epoch in range(3):
        random.shuffle(examples)
        expected.append((epoch, [eg.reference.text for eg in examples]))
    assert ours == expected


def test_replay_lands_on_the_same_next_batches_across_epochs():
    nlp, corpus = corpus_of(23)
    fix_random_seed(3)
    first = TrainBatches(nlp, corpus, batcher_with_schedule(), max_epochs=0)
    it = iter(first)
    for _ in range(17):  # several epochs in
        next(it)
        random.random()  # training draws from the same generator between batches
    position, state = first.position(), random.getstate()
    expected = [(e, texts(b)) for e, b in (next(it) for _ in range(12))]

    fix_random_seed(99)  # a new process: other random state, a fresh batcher schedule
    second = TrainBatches(nlp, corpus, batcher_with_schedule(), max_epochs=0)
    second.replay(position)
    random.setstate(state)
    it2 = iter(second)
    assert [(e, texts(b)) for e, b in (next(it2) for _ in range(12))] == expected


def test_streamed_corpus_is_not_shuffled_and_replays():
    nlp, corpus = corpus_of(5)
    stream = TrainBatches(nlp, corpus, lambda xs: ([x] for x in xs), max_epochs=-1)
    it = iter(stream)
    got = [texts(next(it)[1])[0] for _ in range(7)]
    assert got[:5] == [f"sentence {i} " + "word " * (i % 7) for i in range(5)] and got[5] == got[0]
    again = TrainBatches(nlp, corpus, lambda xs: ([x] for x in xs), max_epochs=-1)
    again.replay(stream.position())
    assert texts(next(iter(again))[1]) == texts(next(it)[1])
