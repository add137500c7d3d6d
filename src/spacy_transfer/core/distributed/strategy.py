"""The one multi-process strategy that ``train`` and ``pretrain`` both run under.

The loops never talk to other processes themselves. They ask their strategy for this
rank's share of a batch, to combine gradients (and losses) before the optimizer step,
whether this rank writes and logs, for rank 0's decisions (scores, stop) so every rank
agrees, to start from and check identical weights, and to re-derive the random streams
of ranks > 0 at a checkpoint. :class:`LocalStrategy` is one process (every hook is the
identity); :class:`DistributedStrategy` is torch.distributed (gloo on CPU, NCCL on GPU).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, TypeVar

from thinc.api import Model

from ...errors import UserError
from .context import DistContext
from .gradients import allreduce_gradients, broadcast_parameters, parameter_checksum, shard

T = TypeVar("T")
# Streams of ranks > 0 derive from (seed, step, rank) with these (large, coprime) factors.
SEED_STRIDE = 1_000_003
STEP_STRIDE = 7_919


def derived_seed(seed: Optional[int], step: int, rank: int = 0) -> int:
    """A 32-bit seed for (seed, step, rank): different for every rank and checkpoint."""
    return ((seed or 0) * SEED_STRIDE + step * (STEP_STRIDE if rank else 1) + rank) % (2**32)


class LocalStrategy:
    """One process: the whole batch is this process's, nothing to combine."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Whether this rank evaluates, prints, and writes pipelines and checkpoints."""
        return self.rank == 0

    def describe(self, gpu_id: int) -> str:
        """``CPU`` or ``GPU 0``, for a run's header."""
        return f"GPU {gpu_id}" if gpu_id >= 0 else "CPU"

    def shard(self, batch: Sequence[T]) -> List[T]:
        """This rank's share of a batch."""
        return list(batch)

    def shard_indices(self, n_items: int) -> Optional[List[int]]:
        """Indices of this rank's items in a batch of ``n_items`` (None: all of them)."""
        return None

    def reduce_gradients(self, models: List[Model], scale: Optional[float] = None) -> None:
        """Sum the gradients of ``models`` across ranks (each scaled by ``scale``, this
        rank's share of the loss's normaliser) before the optimizer step."""

    def reduce_loss(self, loss: float, weight: float = 1.0) -> float:
        """The combined batch's loss: the ranks' losses, each weighted by its share."""
        return loss

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

    def check_identical(self, models: List[Model], where: str) -> None:
        """Fail when the ranks' weights differ."""

    def reseed(self, seed: Optional[int], step: int) -> None:
        """Re-derive this rank's random streams at a checkpoint (and on resume)."""


class DistributedStrategy(LocalStrategy):
    """Data parallel: shard batches, sum gradients, rank 0 decides, writes and logs."""

    def __init__(self, ctx: DistContext) -> None:
        self.ctx = ctx
        self.rank = ctx.rank
        self.world_size = ctx.world_size

    def describe(self, gpu_id: int) -> str:
        """``2 processes (gloo), CPU`` or ``..., one GPU each``, for a run's header."""
        n, where = self.world_size, "one GPU each" if gpu_id >= 0 else "CPU"
        return f"{n} process{'es' if n > 1 else ''} ({self.ctx.backend}), {where}"

    def shard(self, batch: Sequence[T]) -> List[T]:
        return shard(batch, self.ctx)

    def shard_indices(self, n_items: int) -> Optional[List[int]]:
        # Round robin, as `shard`: sizes differ by at most one. A rank whose share is empty
        # (a batch smaller than the world) still joins the reduce.
        return list(range(self.rank, n_items, self.world_size))

    def reduce_gradients(self, models: List[Model], scale: Optional[float] = None) -> None:
        allreduce_gradients(models, self.ctx, scale=1.0 if scale is None else scale)
        self._sync_python_random()

    def _sync_python_random(self) -> None:
        """Give every rank rank 0's Python ``random`` state before the next batch is drawn.

        The shuffle that orders each epoch uses Python's ``random``, and so do components
        during their update (the parser's oracle cuts), by amounts that depend on each
        rank's shard. Without this the ranks' epoch orders would drift apart and their
        shards would overlap or miss examples.
        """
        import random

        random.setstate(self.broadcast(random.getstate()))

    def reduce_loss(self, loss: float, weight: float = 1.0) -> float:
        import torch
        import torch.distributed as dist

        total = torch.tensor([loss * weight], dtype=torch.float64)  # float64: only for the log
        if self.ctx.backend == "nccl":
            total = total.cuda()
        dist.all_reduce(total)
        return float(total.item())

    def reduce_stats(self, stats: Dict[str, float]) -> Dict[str, float]:
        import torch
        import torch.distributed as dist

        keys = sorted(stats)
        gathered: List[Optional[List[str]]] = [None] * self.world_size
        dist.all_gather_object(gathered, keys)
        all_keys = sorted({k for ks in gathered for k in (ks or [])})
        values = torch.tensor([float(stats.get(k, 0.0)) for k in all_keys], dtype=torch.float64)
        if self.ctx.backend == "nccl":
            values = values.cuda()
        dist.all_reduce(values)
        return dict(zip(all_keys, values.cpu().tolist()))

    def broadcast(self, value: Any) -> Any:
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()

    def sync_weights(self, models: List[Model]) -> None:
        broadcast_parameters(models, self.ctx)

    def check_identical(self, models: List[Model], where: str) -> None:
        import torch.distributed as dist

        sums: List[Optional[str]] = [None] * self.world_size
        dist.all_gather_object(sums, parameter_checksum(models))
        if len(set(sums)) > 1:
            rows = [(f"rank {r}", str(s)[:16]) for r, s in enumerate(sums)]
            raise UserError(
                f"The ranks' weights differ at {where}: the data-parallel run lost its lockstep",
                rows=rows,
                hint="Every rank must build the same network from the same seed and config; "
                "report this with the config if it does.",
            )

    def reseed(self, seed: Optional[int], step: int) -> None:
        """Give ranks > 0 their own dropout streams, derived from (seed, rank, step).

        A checkpoint holds rank 0's random states; re-deriving the other ranks' at every
        checkpoint (and on resume) makes a resumed run draw exactly what an
        uninterrupted one would.
        """
        if self.rank == 0:
            return
        import numpy
        import torch

        derived = derived_seed(seed, step, self.rank)
        numpy.random.seed(derived)
        torch.manual_seed(derived)
