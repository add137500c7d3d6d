"""A forward pass's fixed cost, in wordpieces' time, is measured from the encoder's own first
passes and then fixed; SPACY_TRANSFER_PASS_OVERHEAD sets it instead. With a real encoder,
the passes planned by it give the same vectors as passes of bounded padding."""

from __future__ import annotations

import numpy
import pytest
import spacy

from spacy_transfer.core.transformer import pass_cost
from spacy_transfer.core.transformer.model import get_hf_model, hf_shim
from spacy_transfer.core.transformer.pass_cost import PassCost, fit_overhead, rounded
from spacy_transfer.errors import UserError

from .conftest import CORPUS
from .test_model import make_model


def timed_passes(fixed_s, per_item_s, sizes):
    return [(n, fixed_s + per_item_s * n) for n in sizes]


def test_the_fit_reads_the_fixed_part_off_the_passes():
    samples = timed_passes(0.005, 0.0001, [16, 40, 64, 200, 500, 1000])  # 50 wordpieces
    assert fit_overhead(samples) == pytest.approx(50.0)


def test_passes_of_nearly_equal_size_do_not_make_the_slope():
    samples = [(n, 0.005 + 0.0001 * n + (0.003 if n % 2 else 0.0)) for n in range(990, 1025)]
    samples += timed_passes(0.005, 0.0001, [32, 100, 200, 300])
    assert fit_overhead(samples) == pytest.approx(50.0, rel=0.2)


def test_one_pass_slowed_by_another_process_does_not_move_the_fit():
    samples = timed_passes(0.005, 0.0001, [16, 40, 64, 120, 200, 300, 500, 1000])
    samples[3] = (120, 0.5)
    assert fit_overhead(samples) == pytest.approx(50.0)


def test_passes_that_get_no_slower_with_size_give_no_fit():
    assert fit_overhead([(16, 0.01), (500, 0.01), (1000, 0.009)]) is None
    assert fit_overhead([(64, 0.01), (64, 0.02)]) is None


@pytest.mark.parametrize("ratio,expected", [(50, 64), (33, 32), (0.1, 16), (1e9, 4096), (96, 128)])
def test_the_measured_ratio_is_bounded_and_rounded_to_a_power_of_two(ratio, expected):
    assert rounded(ratio) == expected


def test_the_prior_holds_until_enough_passes_are_timed_then_the_measurement_is_fixed(monkeypatch):
    monkeypatch.delenv(pass_cost.ENV, raising=False)
    cost = PassCost()
    sizes = [100] * pass_cost.WARMUP + [(32, 64, 500, 1000)[i % 4] for i in range(pass_cost.SAMPLES)]
    timed = timed_passes(0.01, 0.0001, sizes)  # 100 wordpieces, after the warm-up passes
    for n, t in timed[:-1]:
        cost.observe(n, t)
    assert (cost.overhead, cost.settled) == (pass_cost.PRIOR, False)
    assert "measuring" in cost.describe()
    cost.observe(*timed[-1])
    assert (cost.overhead, cost.measured) == (128.0, True)
    cost.observe(16, 50.0)  # fixed from now on
    assert cost.overhead == 128.0 and cost.describe() == "128 wordpieces (measured)"


def test_passes_mostly_at_the_bound_wait_for_small_ones(monkeypatch):
    monkeypatch.delenv(pass_cost.ENV, raising=False)
    cost = PassCost()
    sizes = [1000] * (pass_cost.WARMUP + 40) + [100, 200, 300]
    for n, t in timed_passes(0.0064, 0.0001, sizes):
        cost.observe(n, t)
    assert not cost.settled, "three small passes are too few to carry every slope"
    cost.observe(150, 0.0064 + 0.015)
    assert (cost.overhead, cost.measured) == (64.0, True)


def test_passes_too_alike_to_fit_keep_the_prior(monkeypatch):
    monkeypatch.delenv(pass_cost.ENV, raising=False)
    cost = PassCost()
    for _ in range(pass_cost.WARMUP + pass_cost.MAX_SAMPLES):
        cost.observe(64, 0.01)
    assert (cost.overhead, cost.measured) == (pass_cost.PRIOR, False)
    assert "too alike" in cost.describe()


def test_the_environment_fixes_it(monkeypatch):
    monkeypatch.setenv(pass_cost.ENV, "16")
    cost = PassCost()
    cost.observe(1000, 10.0)
    assert (cost.overhead, cost.measured) == (16.0, False)
    assert "set by SPACY_TRANSFER_PASS_OVERHEAD" in cost.describe()


@pytest.mark.parametrize("value", ["lots", "-3", "nan"])
def test_a_bad_setting_says_what_to_set(monkeypatch, value):
    monkeypatch.setenv(pass_cost.ENV, value)
    with pytest.raises(UserError, match="is not a number of wordpieces") as err:
        PassCost()
    assert "SPACY_TRANSFER_PASS_OVERHEAD=64" in err.value.hint


def docs_of_many_lengths(n=60):
    nlp = spacy.blank("en")
    texts = [" ".join(CORPUS[i % len(CORPUS)] for i in range(k % 7 + 1)) for k in range(n)]
    return [nlp.make_doc(t) for t in texts]


def test_a_real_encoder_measures_its_passes_and_plans_by_them(minilm_path, monkeypatch):
    monkeypatch.delenv(pass_cost.ENV, raising=False)
    model = make_model(minilm_path, max_batch_items=1024)
    docs = docs_of_many_lengths()
    for start in range(0, len(docs), 4):  # small batches: many passes of many sizes
        model.predict(docs[start : start + 4])
    cost = hf_shim(model).pass_cost
    assert cost.settled
    assert cost.overhead in [2.0**k for k in range(4, 13)]


def test_planned_passes_give_the_vectors_of_bounded_padding(minilm_path, monkeypatch):
    docs = docs_of_many_lengths(24)
    outputs, passes = {}, {}
    for setting in ("0", "100000"):  # a pass per length vs as few passes as fit
        monkeypatch.setenv(pass_cost.ENV, setting)
        model = make_model(minilm_path, max_batch_items=1024)
        calls = []
        get_hf_model(model).register_forward_hook(lambda *args, calls=calls: calls.append(1))
        outputs[setting] = [d.tensors[0] for d in model.predict(docs).doc_data]
        passes[setting] = len(calls)
    assert passes["0"] > passes["100000"] >= 1
    for a, b in zip(outputs["0"], outputs["100000"]):
        numpy.testing.assert_allclose(a, b, atol=1e-4)
