"""The training loop's seam: how one batch's forward and backward passes run.

The loop hands each batch (its part of it, under gradient accumulation) to an
:class:`UpdateStrategy` and applies the gradients itself. The default is spaCy's own
``Language.update``, so a config trains exactly as ``spacy train`` trains it. ``distill``
passes a strategy of its own (:class:`~spacy_transfer.core.distill.objective.DistillUpdate`)
that gives some components the teacher's soft targets; nothing of spaCy's is patched.
"""

from __future__ import annotations

from typing import Any, Dict, Sequence

from spacy.language import Language
from spacy.training import Example


class UpdateStrategy:
    """spaCy's update: ``nlp.update`` with the optimizer step left to the caller (``sgd=False``)."""

    # Whether the training data must annotate every trainable component and label.
    check_labels: bool = True

    def bind(self, nlp: Language, reporter: Any) -> None:
        """Called once with the built pipeline, before the first step (nothing to do here)."""

    def __call__(
        self,
        nlp: Language,
        examples: Sequence[Example],
        *,
        drop: float,
        losses: Dict[str, float],
        sgd: Any = False,
        exclude: Sequence[str] = (),
        annotates: Sequence[str] = (),
    ) -> None:
        nlp.update(list(examples), drop=drop, losses=losses, sgd=sgd, exclude=exclude, annotates=annotates)  # type: ignore[arg-type]
