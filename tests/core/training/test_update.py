"""The loop's update seam: by default spaCy's own ``nlp.update``, gradients only."""

from __future__ import annotations

import numpy
import spacy
from spacy.training import Example
from spacy.util import fix_random_seed

from spacy_transfer.core.training import UpdateStrategy


def _tagger():
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("tagger")
    examples = [Example.from_dict(nlp.make_doc("a b c"), {"tags": ["X", "Y", "X"]})]
    nlp.initialize(lambda: examples)
    return nlp, examples


def test_the_default_update_computes_spacys_gradients_and_changes_no_weight():
    ours, examples = _tagger()
    spacys, _ = _tagger()  # same seed, same initial weights
    before = [p.copy() for p in _params(ours)]
    losses: dict = {}
    UpdateStrategy()(ours, examples, drop=0.0, losses=losses)
    spacys.update(examples, drop=0.0, sgd=False, losses={})
    assert all(numpy.array_equal(a, b) for a, b in zip(before, _params(ours)))
    assert losses["tagger"] > 0
    assert _grads(ours) and all(numpy.array_equal(a, b) for a, b in zip(_grads(ours), _grads(spacys)))
    assert UpdateStrategy.check_labels  # spaCy's data must annotate every label


def _params(nlp):
    model = nlp.get_pipe("tagger").model
    return [n.get_param(p) for n in model.walk() for p in n.param_names if n.has_param(p)]


def _grads(nlp):
    model = nlp.get_pipe("tagger").model
    return [n.get_grad(p) for n in model.walk() for p in n.param_names if n.has_grad(p)]
