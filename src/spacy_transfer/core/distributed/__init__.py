"""Data-parallel training through ``torch.distributed`` (the engine behind torchrun).

Every rank builds the same pipeline from the same seed, takes its own shard of every
batch, and before each optimizer step the gradients of all trainable parameters (thinc
arrays and torch tensors alike) are summed across ranks in one flat buffer, so every rank
applies the same update and holds identical weights after every step.

- :mod:`.launch`: ``--nproc N`` through torchrun, rank errors, and :func:`run_on_ranks`, the
  launch sequence both commands use; :mod:`.context`: joining the process group;
- :mod:`.strategy`: :class:`LocalStrategy`/:class:`DistributedStrategy`, the one interface
  both loops call; :mod:`.gradients`: the flat all-reduce, broadcasts, checksums, sharding.
"""

from .context import DistContext, init_from_env, shutdown
from .gradients import allreduce_gradients, broadcast_parameters, parameter_checksum, shard
from .launch import Launch, launch, launched_by_torchrun, rank_errors, relaunch, run_on_ranks
from .strategy import DistributedStrategy, LocalStrategy, derived_seed

__all__ = [
    "DistContext",
    "DistributedStrategy",
    "LocalStrategy",
    "derived_seed",
    "Launch",
    "launch",
    "run_on_ranks",
    "launched_by_torchrun",
    "rank_errors",
    "relaunch",
    "allreduce_gradients",
    "broadcast_parameters",
    "init_from_env",
    "parameter_checksum",
    "shard",
    "shutdown",
]
