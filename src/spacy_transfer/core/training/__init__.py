"""Training: our loop on spaCy's pieces, checkpoints and exact resume, progress, plots.

- :mod:`.loop`: the run (:class:`Trainer`, :func:`train`); :mod:`.step`: one update in
  pieces (forward/backward, combined optimizer step);
- :mod:`.initialize`: spaCy's ``init_nlp`` steps plus listener/frozen checks;
  :mod:`.checks`: the data and pipeline checks before anything is written;
- :mod:`.batches`: epochs, shuffling and batching, resumable mid-epoch;
- :mod:`.run_state`: the run's counters and stop rules; :mod:`.checkpoint`: the resume folder;
- :mod:`.evaluate`, :mod:`.progress`, :mod:`.plots`, :mod:`.outputs` (meta.json,
  before_to_disk), :mod:`.signals` (Ctrl-C/SIGTERM: stop after the step, resumable).
"""

from ..distributed.strategy import LocalStrategy
from ..state import stable_keys
from .checkpoint import Checkpoint, save_checkpoint
from .evaluate import evaluate_pipeline, weighted_score
from .loop import Trainer, TrainResult, train
from .step import apply_gradients, compute_gradients

__all__ = [
    "Checkpoint",
    "LocalStrategy",
    "TrainResult",
    "Trainer",
    "apply_gradients",
    "compute_gradients",
    "evaluate_pipeline",
    "save_checkpoint",
    "stable_keys",
    "train",
    "weighted_score",
]
