"""``spacy-transfer.PretrainMaskedLM.v1``: masked-language-model pretraining of a transformer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from spacy.util import registry


@dataclass
class MaskedLMObjectiveFactory:
    mask_prob: float = 0.15
    whole_word: bool = True
    max_length: int = 512

    def __call__(self, vocab: Any, model: Any) -> Any:
        # spaCy's schema wants a callable; only our loop knows how to run this objective.
        from ...errors import UserError

        raise UserError("spacy-transfer.PretrainMaskedLM.v1 runs only in 'spacy-transfer pretrain'",
                        hint="Run 'spacy-transfer pretrain CONFIG OUTPUT', not 'spacy pretrain'.")

    def build(self, nlp: Any, target: Any, *, dropout: float, seed: Optional[int]) -> Any:
        raise NotImplementedError


@registry.architectures("spacy-transfer.PretrainMaskedLM.v1")
def create_pretrain_masked_lm(mask_prob: float = 0.15, whole_word: bool = True, max_length: int = 512) -> MaskedLMObjectiveFactory:
    return MaskedLMObjectiveFactory(mask_prob=mask_prob, whole_word=whole_word, max_length=max_length)
