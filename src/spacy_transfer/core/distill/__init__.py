"""Distillation: a trained (transformer) pipeline teaches a small one (``spacy-transfer distill``).

- :mod:`.teacher`: loading the teacher, checking the student against it, its fingerprint;
- :mod:`.annotate`: the teacher annotates raw text into cached ``.spacy`` shards, with the
  top-k probabilities of the components that have a distribution (resumable);
- :mod:`.soft`: the student's soft-target losses (KL divergence at a temperature) and updates;
- :mod:`.transitions`: the parser's and ner's per-state targets (the teacher's actions);
- :mod:`.objective`: the training loop's update with those, through the loop's seam;
- :mod:`.reader`: the reader that mixes silver shards with gold data;
- :mod:`.recipe`: the whole command: annotate, train with ``train``'s recipe, evaluate;
- :mod:`.strings`: the saved student's string store cut to what it needs (not the raw text's words);
- :mod:`.report`: the student against the dev data and the teacher, speed and size.
"""

from . import reader  # noqa: F401  (registers spacy-transfer.DistillCorpus.v1)
from .annotate import SOFT_KEY, annotate_raw_text
from .objective import DistillUpdate
from .recipe import DistillRecipe, DistillSettings, distill
from .soft import SOFT_COMPONENTS, soft_losses

__all__ = [
    "SOFT_KEY",
    "SOFT_COMPONENTS",
    "DistillRecipe",
    "DistillSettings",
    "DistillUpdate",
    "annotate_raw_text",
    "distill",
    "soft_losses",
]
