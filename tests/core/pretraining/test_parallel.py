"""The data-parallel reduce, worked out in one process: the shards' gradients, weighted as
the distributed reduce weights them (each shard's share of what the objective's loss is
normalised by), sum to the gradient of the whole batch; their weighted losses sum to
its loss. A plain sum would not (the objectives' losses are means)."""

from __future__ import annotations

from typing import Dict, List

import numpy
import pytest
import torch
from spacy.tokens import Doc
from thinc.api import Model

from spacy_transfer.core.pretraining import setup_pretraining
from spacy_transfer.core.pretraining.objectives import loss_reduction, share
from spacy_transfer.core.pretraining.raw_text import iter_docs

from ..transformer.conftest import make_tiny_model_dir
from .conftest import tiny_config
from .test_masked_lm import trf_config


def gradients(model: Model) -> Dict[str, numpy.ndarray]:
    out = {}
    for i, node in enumerate(model.walk()):
        for name in node.param_names:
            if node.has_grad(name):
                out[f"{i}/{name}"] = numpy.array(node.get_grad(name), dtype="f8")
        for shim in node.shims:
            for name, p in shim._model.named_parameters():
                if p.grad is not None:
                    out[f"{i}/shim/{name}"] = p.grad.detach().numpy().astype("f8")
    return out


def clear(model: Model) -> None:
    for node in model.walk():
        for name in node.param_names:
            if node.has_grad(name):
                node.set_grad(name, node.ops.alloc(node.get_grad(name).shape))
        for shim in node.shims:
            for p in shim._model.parameters():
                p.grad = None


def first_batch(setup, min_docs: int) -> List[Doc]:
    batch = next(
        b for b in setup.settings["batcher"](iter_docs(setup.corpus, setup.nlp)) if len(b) >= min_docs
    )
    return list(batch)


def check_shards_sum_to_the_batch(objective, docs: List[Doc], world: int, rtol: float) -> None:
    model = objective.model
    state = objective.masker.get_state()
    combined: Dict[str, numpy.ndarray] = {}
    plain: Dict[str, numpy.ndarray] = {}
    loss = 0.0
    for rank in range(world):
        objective.masker.set_state(state)  # each rank's masker is where every other rank's is
        clear(model)
        shard = objective.backward(docs, list(range(rank, len(docs), world)))
        assert shard.active
        for key, grad in gradients(model).items():
            combined[key] = combined.get(key, 0.0) + shard.grad_weight * grad
            plain[key] = plain.get(key, 0.0) + grad
        loss += shard.loss_weight * shard.loss
    objective.masker.set_state(state)
    clear(model)
    whole = objective.backward(docs)
    expected = gradients(model)
    assert expected.keys() == combined.keys()
    for key in expected:
        # float32 sums in a different order: tolerance relative to the array's scale
        scale = float(numpy.abs(expected[key]).max())
        numpy.testing.assert_allclose(
            combined[key], expected[key], rtol=0, atol=rtol * scale + 1e-7, err_msg=key
        )
    assert loss == pytest.approx(whole.loss, rel=1e-4)
    # Summing the shards' mean gradients unweighted would be about `world` times too large.
    big = max(expected, key=lambda k: numpy.abs(expected[k]).sum())
    assert numpy.abs(plain[big]).sum() > 1.5 * numpy.abs(expected[big]).sum()


@pytest.mark.parametrize("world", [2, 3])
def test_characters_objective(raw_jsonl, world):
    setup = setup_pretraining(tiny_config(raw_jsonl, {"pretraining.dropout": 0.0}))
    assert setup.objective.reduction == ("mean", "sum")
    check_shards_sum_to_the_batch(setup.objective, first_batch(setup, 5), world, rtol=1e-4)


@pytest.mark.parametrize("loss, rule", [("cosine", ("mean", "mean")), ("L2", ("mean", "mean_squared"))])
def test_vectors_objective(raw_jsonl, vectors_model, loss, rule):
    objective = {
        "@architectures": "spacy.PretrainVectors.v1",
        "maxout_pieces": 2,
        "hidden_size": 32,
        "loss": loss,
    }
    setup = setup_pretraining(
        tiny_config(
            raw_jsonl,
            {
                "pretraining.dropout": 0.0,
                "pretraining.objective": objective,
                "paths.vectors": str(vectors_model),
            },
        )
    )
    assert setup.objective.reduction == rule
    check_shards_sum_to_the_batch(setup.objective, first_batch(setup, 4), 2, rtol=1e-4)


def test_masked_lm_objective_weights_by_picked_wordpieces(tmp_path, raw_jsonl):
    tiny_bert = make_tiny_model_dir(tmp_path, "bert", max_len=64)
    setup = setup_pretraining(trf_config(tiny_bert, raw_jsonl, **{"pretraining.dropout": 0.0}))
    for module in setup.objective.shim._model.modules():  # the encoder's own dropout off too
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    check_shards_sum_to_the_batch(setup.objective, first_batch(setup, 4), 2, rtol=1e-3)


def test_an_empty_shard_contributes_nothing_but_the_batch_still_steps(raw_jsonl):
    setup = setup_pretraining(tiny_config(raw_jsonl, {"pretraining.dropout": 0.0}))
    empty = setup.objective.backward(first_batch(setup, 1), [])
    assert (empty.loss, empty.grad_weight, empty.active) == (0.0, 0.0, True)


def test_share_rules():
    assert share("sum", 3, 10) == 1.0
    assert share("mean", 3, 10) == pytest.approx(0.3)
    assert share("mean_squared", 3, 10) == pytest.approx(0.09)
    assert share("mean", 0, 0) == 0.0


def test_a_custom_objective_can_state_its_reduction():
    model = Model(
        "custom", lambda model, X, is_train: (X, lambda d: d), attrs={"pretrain_reduction": ("sum", "sum")}
    )
    assert loss_reduction(model, lambda ops, docs, pred: (0.0, pred)) == ("sum", "sum")
