"""Pretraining in one process or data-parallel across ranks (``pretrain --nproc N``).

Every rank streams the same corpus through the same batcher, so all ranks see every
batch whole; each masks the whole batch with its (identical) generator, computes the
gradients of its own shard, and the reduce weights them by the shard's share of the
objective's normaliser before summing, so every rank steps on the gradient of the
combined batch and holds the same weights after every step. Rank 0 alone prints and
writes; the weights are compared across ranks (checksums) at every save.
"""

from __future__ import annotations

from typing import List, Optional

from thinc.api import Model

from ...errors import UserError
from ..distributed import DistContext, DistributedStrategy, allreduce_gradients, broadcast_parameters, parameter_checksum
from .objectives import ShardGradients


class LocalSync:
    """One process: the whole batch is this process's, nothing to combine."""

    rank = 0
    world_size = 1
    is_main = True

    def keep(self, n_docs: int) -> Optional[List[int]]:
        """Indices of this rank's docs in a batch of ``n_docs`` (None: all of them)."""
        return None

    def reduce(self, model: Model, grads: ShardGradients) -> float:
        """Combine the ranks' gradients (in ``model``) and losses; returns the batch's loss."""
        return grads.loss

    def start(self, model: Model) -> None:
        """Make every rank start from rank 0's weights."""

    def check_identical(self, model: Model, where: str) -> None:
        """Fail when the ranks' weights differ."""

    def reseed(self, seed: Optional[int], step: int) -> None:
        """Re-derive the dropout streams of ranks > 0 (at a save, and on resume)."""


class DistributedSync(LocalSync):
    """torch.distributed behind the same hooks (gloo on CPU, NCCL on GPU)."""

    def __init__(self, ctx: DistContext) -> None:
        self.ctx = ctx
        self.rank, self.world_size = ctx.rank, ctx.world_size
        self.is_main = ctx.is_main
        self.strategy = DistributedStrategy(ctx)

    def keep(self, n_docs: int) -> Optional[List[int]]:
        # Round robin, as in `train`: shard sizes differ by at most one doc. A rank whose
        # shard is empty (a batch smaller than the world) still joins the reduce.
        return list(range(self.rank, n_docs, self.world_size))

    def reduce(self, model: Model, grads: ShardGradients) -> float:
        import torch
        import torch.distributed as dist

        # Weighted sum: each rank's gradient is scaled by its share of the objective's
        # normaliser (tokens for spaCy's objectives, picked wordpieces for the masked-LM
        # mean), 1.0 for a loss that is a plain sum. See ShardGradients.
        allreduce_gradients([model], self.ctx, scale=grads.grad_weight)
        # The loss in float64 (only for the log: the table and log.jsonl).
        loss = torch.tensor([grads.loss * grads.loss_weight], dtype=torch.float64)
        if self.ctx.backend == "nccl":
            loss = loss.cuda()
        dist.all_reduce(loss)
        # Nothing in pretraining should consume Python's `random` per shard, but a custom
        # objective or reader might: keep the ranks' streams (and so their batches) alike.
        self.strategy._sync_python_random()
        return float(loss.item())

    def start(self, model: Model) -> None:
        broadcast_parameters([model], self.ctx)

    def check_identical(self, model: Model, where: str) -> None:
        import torch.distributed as dist

        sums: List[Optional[str]] = [None] * self.world_size
        dist.all_gather_object(sums, parameter_checksum([model]))
        if len(set(sums)) > 1:
            rows = [(f"rank {r}", str(s)[:16]) for r, s in enumerate(sums)]
            raise UserError(f"The ranks' weights differ at {where}: the data-parallel run lost its lockstep", rows=rows,
                            hint="Every rank must build the same network from the same seed and config; "
                            "report this with the config if it does.")

    def reseed(self, seed: Optional[int], step: int) -> None:
        self.strategy.reseed(seed, step)
