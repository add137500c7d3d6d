"""One training step in small pieces: forward and backward over a batch (accumulating
gradients), then the combined optimizer step. The loop calls them in this order; tests and
distributed checks call them one by one."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Sequence

from spacy.language import Language
from spacy.training import Example
from thinc.api import Optimizer

from ..distributed.strategy import LocalStrategy
from .update import UpdateStrategy

SPACY_UPDATE = UpdateStrategy()


def subdivide_batch(batch: Sequence[Example], accumulate_gradient: int) -> Iterator[List[Example]]:
    """Split a batch into ``accumulate_gradient`` parts of similar length (as spaCy does)."""
    examples = sorted(batch, key=lambda eg: len(eg.predicted))
    size = len(examples) // accumulate_gradient
    start = 0
    for _ in range(accumulate_gradient):
        part = examples[start : start + size]
        if part:
            yield part
        start += len(part)
    if examples[start:]:
        yield examples[start:]


def compute_gradients(
    nlp: Language,
    batch: Sequence[Example],
    *,
    dropout: float,
    losses: Dict[str, float],
    exclude: Sequence[str],
    annotating: Sequence[str],
    accumulate_gradient: int = 1,
    update: UpdateStrategy = SPACY_UPDATE,
) -> None:
    """Forward and backward over the batch (by ``update``: spaCy's own unless given);
    gradients accumulate, no weights change."""
    for part in subdivide_batch(batch, accumulate_gradient):
        update(nlp, part, drop=dropout, losses=losses, exclude=exclude, annotates=annotating)


def trainable_components(nlp: Language, exclude: Sequence[str]) -> List[Any]:
    return [
        proc
        for name, proc in nlp.pipeline
        if name not in exclude
        and getattr(proc, "is_trainable", False)
        and getattr(proc, "model", None) not in (True, False, None)
    ]


def apply_gradients(
    nlp: Language, optimizer: Optimizer, exclude: Sequence[str], strategy: LocalStrategy
) -> None:
    """Combine gradients across ranks (a no-op alone), then one optimizer step."""
    procs = trainable_components(nlp, exclude)
    strategy.reduce_gradients([proc.model for proc in procs])
    for proc in procs:
        proc.finish_update(optimizer)
    optimizer.step_schedules()
