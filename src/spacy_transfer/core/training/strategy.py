"""The seams a multi-process run plugs into, with their single-process defaults.

The loop never talks to other processes itself. It asks its strategy to take this
rank's share of a batch, to combine gradients before the optimizer step, whether this
rank writes and logs, and for rank 0's decisions (scores, stop) so every rank agrees.
A data-parallel implementation subclasses :class:`LocalStrategy` and overrides these.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, TypeVar

from thinc.api import Model

T = TypeVar("T")


class LocalStrategy:
    """One process: every hook is the identity."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Whether this rank evaluates, prints, and writes pipelines and checkpoints."""
        return self.rank == 0

    def shard(self, batch: Sequence[T]) -> List[T]:
        """This rank's share of a batch."""
        return list(batch)

    def reduce_gradients(self, models: List[Model]) -> None:
        """Combine the gradients of ``models`` across ranks before the optimizer step."""

    def reduce_stats(self, stats: Dict[str, float]) -> Dict[str, float]:
        """Sum per-rank numbers (losses, words) for logging."""
        return stats

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (evaluation results, stop decisions)."""
        return value

    def barrier(self) -> None:
        """Wait for every rank (e.g. while rank 0 writes a checkpoint)."""

    def sync_weights(self, models: List[Model]) -> None:
        """Make every rank start from rank 0's weights."""

    def reseed(self, seed: Any, step: int) -> None:
        """Re-derive this rank's random streams at a checkpoint (and on resume)."""
