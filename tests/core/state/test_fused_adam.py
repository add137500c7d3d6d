"""The fused Adam step computes what thinc's optimizer computes, keeps its state in the
thinc optimizer, and leaves everything it does not cover to thinc."""

from __future__ import annotations

import numpy
import pytest
import torch
from thinc.api import SGD, Adam, Optimizer, RAdam, torch2xp, xp2torch

from spacy_transfer.core.state import fused_adam


def _params(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(40, 16), (16,), (3, 5, 7), (0,), (1,)]
    return [torch.nn.Parameter(torch.randn(*s, generator=gen)) for s in shapes]


def _grads(params, step: int):
    gen = torch.Generator().manual_seed(100 + step)
    # one large gradient so that clipping applies to some parameters and not others
    return [torch.randn(p.shape, generator=gen) * (3.0 if i == 0 else 0.05) for i, p in enumerate(params)]


def _thinc_step(opt, params, grads):
    for i, (p, g) in enumerate(zip(params, grads)):
        p.grad = g.clone()
        w, _ = opt((7, f"p{i}"), torch2xp(p.data), torch2xp(p.grad))
        p.data = xp2torch(w)


def _fused_step(opt, params, grads):
    for p, g in zip(params, grads):
        p.grad = g.clone()
    fused_adam.step(opt, [((7, f"p{i}"), p) for i, p in enumerate(params)])


def _adam(**kwargs) -> Optimizer:
    settings = dict(learn_rate=0.01, L2=0.01, grad_clip=1.0, use_averages=True)
    settings.update(kwargs)
    return Adam(**settings)


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"L2_is_weight_decay": False},
        {"grad_clip": 0.0, "L2": 0.0},
        {"use_averages": False, "beta1": 0.8},
        {"learn_rate": 0.0},  # a warmup's first step
        {"learn_rate": 2.0, "L2": 1.0},  # decay past zero: applied apart from the kernel
    ],
    ids=["spacy-default+averages", "l2-in-gradient", "plain", "other-betas", "rate-0", "decay-past-zero"],
)
def test_fused_step_equals_thinc_adam_over_several_steps(settings):
    ref, fused = _params(), _params()
    opt_ref, opt_fused = _adam(**settings), _adam(**settings)
    for step in range(5):
        grads = _grads(ref, step)
        _thinc_step(opt_ref, ref, grads)
        _fused_step(opt_fused, fused, grads)
        opt_ref.step_schedules()
        opt_fused.step_schedules()
    for a, b in zip(ref, fused):
        numpy.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert dict(opt_ref.nr_update) == dict(opt_fused.nr_update)
    for store in ("mom1", "mom2", "averages"):
        ref_store, fused_store = getattr(opt_ref, store) or {}, getattr(opt_fused, store) or {}
        assert ref_store.keys() == fused_store.keys()
        for key in ref_store:
            numpy.testing.assert_allclose(fused_store[key], ref_store[key], rtol=1e-5, atol=1e-7)


def test_state_restored_into_a_fresh_optimizer_continues_identically():
    """Moments that come back from a checkpoint (read-only arrays) are used, not reset."""
    params = _params()
    opt = _adam()
    _fused_step(opt, params, _grads(params, 0))
    restored = _adam()
    restored.nr_update.update(opt.nr_update)
    for store in ("mom1", "mom2", "averages"):
        for key, value in getattr(opt, store).items():
            frozen = numpy.array(value)
            frozen.flags.writeable = False
            getattr(restored, store)[key] = frozen
    copy = [torch.nn.Parameter(p.detach().clone()) for p in params]
    _fused_step(opt, params, _grads(params, 1))
    _fused_step(restored, copy, _grads(copy, 1))
    for a, b in zip(params, copy):
        assert torch.equal(a, b)


@pytest.mark.parametrize("make", [lambda: RAdam(0.01), lambda: SGD(0.01)], ids=["radam", "sgd"])
def test_other_optimizers_are_left_to_thinc(make):
    params = _params()
    for p, g in zip(params, _grads(params, 0)):
        p.grad = g
    assert not fused_adam.supports(make(), params)
    assert fused_adam.supports(_adam(), params)


def test_non_float32_weights_are_left_to_thinc():
    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.bfloat16))
    p.grad = torch.ones(3, dtype=torch.bfloat16)
    assert not fused_adam.supports(_adam(), [p])
