"""What training writes with a pipeline: meta.json's performance, the before_to_disk hook."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from spacy.language import Language

from ...errors import UserError


def update_meta(
    score_weights: Dict[str, Any], nlp: Language, scores: Dict[str, Any], losses: Dict[str, float]
) -> None:
    """``meta.json["performance"]``: each weighted score and each component's loss."""
    performance: Dict[str, Any] = {}
    for metric in score_weights:
        if metric is not None:
            performance[metric] = scores.get(metric, 0.0)
    for name in nlp.pipe_names:
        if name in losses:
            performance[f"{name}_loss"] = losses[name]
    nlp.meta["performance"] = performance


def make_before_to_disk(callback: Optional[Callable[[Language], Language]]) -> Callable[[Language], Language]:
    def before_to_disk(nlp: Language) -> Language:
        if callback is None:
            return nlp
        modified = callback(nlp)
        if not isinstance(modified, Language):
            raise UserError(
                f"[training] before_to_disk returned {type(modified).__name__}, not the nlp object",
                hint="The callback must return the (modified) Language object it was given.",
            )
        return modified

    return before_to_disk
