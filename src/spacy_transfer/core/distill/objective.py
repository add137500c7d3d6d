"""The student's update: the training loop's seam (:class:`~spacy_transfer.core.training.UpdateStrategy`)
with the teacher's soft targets.

It walks the pipeline as spaCy's ``Language.update`` does (each component's update in
pipeline order on copies of the batch's predicted docs, annotating components setting their
annotations after their update), and calls our update for the components with soft targets
(:mod:`.soft`: taggers, text and span categorizers; :mod:`.transitions`: parsers and ners)
and spaCy's own for the rest. Nothing of spaCy's is replaced, so the student stays a plain
spaCy pipeline, and a spaCy upgrade that changes these methods cannot be missed silently.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

from spacy.language import Language
from spacy.training import Example, validate_examples

from ..training.update import UpdateStrategy
from .soft import ComponentUpdate, soft_updates
from .transitions import TRANSITION_TEMPERATURE, transition_updates


class DistillUpdate(UpdateStrategy):
    """Soft targets at ``temperature`` for the components the teacher labelled
    (``teacher_labels``: its labels, or its actions for parsers and ners, by component)."""

    # The data are the teacher's annotations: a label it never predicts is not an error.
    check_labels = False

    def __init__(
        self,
        teacher_labels: Dict[str, List[str]],
        temperature: float,
        *,
        transition_temperature: float = TRANSITION_TEMPERATURE,
        top_k: int = 0,
        components: Sequence[str] = (),
    ) -> None:
        self.teacher_labels = teacher_labels
        self.components = list(components) or list(teacher_labels)  # every component it teaches
        self.temperature = temperature
        self.transition_temperature = transition_temperature
        self.top_k = top_k
        self.soft: List[str] = []
        self.transitions: List[str] = []
        self.updates: Dict[str, ComponentUpdate] = {}

    def bind(self, nlp: Language, reporter: Any) -> None:
        soft = soft_updates(nlp, self.teacher_labels, self.temperature)
        steps = transition_updates(nlp, self.teacher_labels, self.transition_temperature)
        self.soft, self.transitions = list(soft), list(steps)
        self.updates = {**soft, **steps}
        hard = [n for n in self.components if n not in self.updates]
        top = f", top {self.top_k}" if self.top_k else ""
        reporter.info(
            f"Soft targets (T={self.temperature}{top}): {self.soft or 'none'}"
            + (
                f"; per parser state (T={self.transition_temperature}): {self.transitions}"
                if self.transitions
                else ""
            )
            + f"; hard targets: {hard or 'none'}"
        )

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
        if not self.updates:
            super().__call__(
                nlp, examples, drop=drop, losses=losses, sgd=sgd, exclude=exclude, annotates=annotates
            )
            return
        if not examples:
            return
        validate_examples(list(examples), "Language.update")
        # As Language.update: each component sees the predicted docs as annotated so far.
        batch = [Example(eg.x.copy(), eg.y) for eg in examples]
        for name, proc in nlp.pipeline:
            if name not in exclude and hasattr(proc, "update"):
                own = self.updates.get(name)
                if own is not None:
                    own(batch, drop=drop, losses=losses)
                else:
                    proc.update(batch, drop=drop, sgd=None, losses=losses)
                if sgd not in (None, False) and getattr(proc, "is_trainable", False):
                    proc.finish_update(sgd)
            if name in annotates:
                docs = proc.pipe((eg.predicted for eg in batch), batch_size=nlp.batch_size)
                for doc, eg in zip(docs, batch):
                    eg.predicted = doc
