"""The loop's seams for multi-process training, and the optimizer state's stable keys."""

from __future__ import annotations

import io

from spacy_transfer.core.config import load_training_config
from spacy_transfer.core.recipe import RunOptions
from spacy_transfer.core.training import LocalStrategy, TrainRecipe, stable_keys

from .data import TINY_SHARED


class CountingStrategy(LocalStrategy):
    """Records each hook call, behaving like a single process otherwise."""

    def __init__(self):
        self.calls = {"shard": 0, "reduce_gradients": 0, "broadcast": 0, "barrier": 0}

    def shard(self, batch):
        self.calls["shard"] += 1
        return super().shard(batch)

    def reduce_gradients(self, models):
        self.calls["reduce_gradients"] += 1
        # Gradients exist here: computed, not yet applied.
        assert any(node.has_grad(name) for m in models for node in m.walk() for name in node.param_names)

    def broadcast(self, value):
        self.calls["broadcast"] += 1
        return value

    def barrier(self):
        self.calls["barrier"] += 1


def test_each_step_shards_then_reduces_before_the_optimizer(shared_config, training_corpora):
    config = load_training_config(
        shared_config,
        {
            **TINY_SHARED,
            "paths.train": str(training_corpora.uner_train),
            "paths.dev": str(training_corpora.uner_dev),
            "training.max_steps": 5,
            "training.eval_frequency": 2,
        },
    )
    strategy = CountingStrategy()
    result = TrainRecipe(config, None, RunOptions(strategy=strategy, stdout=io.StringIO())).execute()
    assert result.state.step == 5
    assert strategy.calls == {"shard": 6, "reduce_gradients": 6, "broadcast": 3, "barrier": 3}


def test_stable_keys_name_every_optimizer_entry(shared_config, training_corpora):
    config = load_training_config(
        shared_config,
        {
            **TINY_SHARED,
            "paths.train": str(training_corpora.uner_train),
            "paths.dev": str(training_corpora.uner_dev),
            "training.max_steps": 1,
        },
    )
    trainer = TrainRecipe(config, None, RunOptions(stdout=io.StringIO()))
    trainer.execute()
    keys = stable_keys(trainer.nlp)
    assert set(trainer.optimizer.mom1) <= set(keys)
    assert len(set(keys.values())) == len(keys)
    assert all(name.split("/")[0] in ("tok2vec", "ner") for name in keys.values())
