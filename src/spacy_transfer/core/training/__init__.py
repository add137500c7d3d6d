"""Training: our loop on spaCy's pieces, checkpoints and resume, devices, progress, plots."""

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
