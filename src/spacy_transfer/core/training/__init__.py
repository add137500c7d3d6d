"""Training: our loop on spaCy's pieces, checkpoints and exact resume, progress, plots.

- :mod:`.recipe`: the run (:class:`TrainRecipe`: setup, restore, run, close; :func:`train`);
  :mod:`.step`: one update in pieces (forward/backward, combined optimizer step);
  :mod:`.update`: the loop's forward/backward seam (spaCy's ``nlp.update`` by default);
- :mod:`.initialize`: spaCy's ``init_nlp`` steps, with :mod:`.pipeline_checks` (the built
  pipeline's shape) between building and initializing;
  :mod:`.checks`: the config's checks before building, the data's after;
- :mod:`.batches`: epochs, shuffling and batching, resumable mid-epoch;
- :mod:`.run_state`: the run's counters and stop rules; :mod:`.checkpoint`: the resume folder;
- :mod:`.evaluate`, :mod:`.progress`, :mod:`.plots`, :mod:`.outputs` (meta.json,
  before_to_disk), :mod:`.signals` (Ctrl-C/SIGTERM: stop after the step, resumable).
"""

from ..distributed.strategy import LocalStrategy
from ..state import stable_keys
from .checkpoint import Checkpoint, save_checkpoint
from .evaluate import evaluate_pipeline, weighted_score
from .recipe import TrainRecipe, TrainResult, train
from .step import apply_gradients, compute_gradients
from .update import UpdateStrategy

__all__ = [
    "Checkpoint",
    "LocalStrategy",
    "TrainResult",
    "TrainRecipe",
    "UpdateStrategy",
    "apply_gradients",
    "compute_gradients",
    "evaluate_pipeline",
    "save_checkpoint",
    "stable_keys",
    "train",
    "weighted_score",
]
