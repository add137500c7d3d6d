"""The training loop's multi-process strategy: torch.distributed behind the loop's seams."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, TypeVar

from thinc.api import Model

from ..training.strategy import LocalStrategy
from .context import DistContext
from .gradients import allreduce_gradients, broadcast_parameters, shard

T = TypeVar("T")


class DistributedStrategy(LocalStrategy):
    """Data parallel: shard batches, sum gradients, rank 0 decides, writes and logs."""

    def __init__(self, ctx: DistContext) -> None:
        self.ctx = ctx
        self.rank = ctx.rank
        self.world_size = ctx.world_size

    def shard(self, batch: Sequence[T]) -> List[T]:
        return shard(batch, self.ctx)

    def reduce_gradients(self, models: List[Model]) -> None:
        allreduce_gradients(models, self.ctx)
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

        derived = ((seed or 0) * 1_000_003 + step * 7_919 + self.rank) % (2**32)
        numpy.random.seed(derived)
        torch.manual_seed(derived)
