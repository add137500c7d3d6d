"""core.state: one naming scheme, the optimizer's state and the random streams, for
training checkpoints and pretraining states alike."""

from __future__ import annotations

import random

import numpy
import pytest
import spacy
import torch
from thinc.api import Adam, Linear, PyTorchWrapper, chain

from spacy_transfer.core.state import (
    load_model_arrays,
    model_arrays,
    optimizer_arrays,
    optimizer_counters,
    restore_optimizer,
    restore_rng,
    rng_state,
    stable_keys,
)
from spacy_transfer.errors import UserError


def _net(seed: int = 0):
    torch.manual_seed(seed)
    model = chain(Linear(4, 3), PyTorchWrapper(torch.nn.Linear(4, 4)))
    model.initialize(X=numpy.zeros((2, 3), dtype="f"))
    return model


def _train(model, opt, steps: int = 2):
    for node in model.walk():
        for name in node.param_names:
            if node.has_param(name):
                w = node.get_param(name)
                g = numpy.ones_like(w) * 0.1
                new, _ = opt((node.id, name), w.copy(), g)
                node.set_param(name, new)


def test_names_do_not_depend_on_the_process_and_prefix_the_component():
    a, b = _net(), _net()
    assert sorted(stable_keys(a).values()) == sorted(stable_keys(b).values())
    assert set(stable_keys(a)) != set(stable_keys(b))  # thinc's ids differ, the names do not
    assert {"1/W", "1/b", "2/shim0/weight", "2/shim0/bias"} == set(stable_keys(a).values())
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec")
    nlp.initialize()
    names = stable_keys(nlp).values()
    assert names and all(n.startswith("tok2vec/") for n in names)
    assert dict(stable_keys([("x", a)])) == {k: f"x/{v}" for k, v in stable_keys(a).items()}


def test_optimizer_state_moves_to_a_rebuilt_network():
    a, b = _net(), _net()
    opt = Adam(0.01, use_averages=True)
    _train(a, opt)
    arrays, counters = optimizer_arrays(opt, stable_keys(a)), optimizer_counters(opt, stable_keys(a))
    assert any(k.startswith("mom1/") for k in arrays) and any(k.startswith("averages/") for k in arrays)
    fresh = Adam(0.01, use_averages=True)
    restore_optimizer(fresh, stable_keys(b), arrays, counters, schedule_steps=0, hint="fix it")
    keys_b = {v: k for k, v in stable_keys(b).items()}
    for full, value in arrays.items():
        table, name = full.split("/", 1)
        numpy.testing.assert_array_equal(getattr(fresh, table)[keys_b[name]], value)
    # training checkpoints of format 1 named them "<table>::<name>"
    legacy = {k.replace("/", "::", 1): v for k, v in arrays.items()}
    restore_optimizer(
        Adam(0.01, use_averages=True), stable_keys(b), legacy, counters, schedule_steps=0, hint="fix it"
    )


def test_state_for_another_network_is_refused_with_the_hint():
    a = _net()
    opt = Adam(0.01)
    _train(a, opt)
    other = Linear(5, 3)
    other.initialize(X=numpy.zeros((2, 3), dtype="f"))
    with pytest.raises(UserError, match="does not fit") as err:
        restore_optimizer(
            Adam(0.01), stable_keys(other), optimizer_arrays(opt, stable_keys(a)), {}, 0, hint="start again"
        )
    assert err.value.hint == "start again"
    with pytest.raises(UserError, match="does not fit"):
        load_model_arrays(other, model_arrays(a), hint="start again")


def test_model_arrays_round_trip_thinc_and_torch_parameters():
    a, b = _net(0), _net(1)
    load_model_arrays(b, model_arrays(a))
    for key, value in model_arrays(a).items():
        numpy.testing.assert_array_equal(model_arrays(b)[key], value)


def test_random_streams_resume_where_they_were():
    random.seed(1), numpy.random.seed(2), torch.manual_seed(3)
    arrays, meta = rng_state()
    first = (random.random(), numpy.random.rand(), torch.rand(1).item())
    restore_rng(arrays, meta)
    assert (random.random(), numpy.random.rand(), torch.rand(1).item()) == first
    # format 1 (training checkpoints): NumPy's key inside the JSON, torch without the prefix
    name, pos, has_gauss, cached = meta["numpy"]
    legacy_meta = {
        "python": meta["python"],
        "numpy": [name, arrays["rng/numpy_keys"].tolist(), pos, has_gauss, cached],
    }
    restore_rng({"torch_cpu": arrays["rng/torch_cpu"]}, legacy_meta)
    assert (random.random(), numpy.random.rand(), torch.rand(1).item()) == first
