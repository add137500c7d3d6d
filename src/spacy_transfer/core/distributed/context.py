"""Which rank we are, and the process group: read from torchrun's environment variables."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional

from ...errors import UserError


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    backend: str

    @property
    def is_main(self) -> bool:
        """Rank 0 alone evaluates, logs and writes outputs."""
        return self.rank == 0


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_from_env(use_gpu: bool, timeout_s: float = 300.0) -> Optional[DistContext]:
    """Join the process group torchrun set up (gloo on CPU, NCCL on GPU); None if alone."""
    # Under torchrun (WORLD_SIZE is set) we always join, even as a world of one: that is
    # how a single-GPU NCCL run is smoke-tested.
    if "WORLD_SIZE" not in os.environ:
        return None
    world = env_world_size()
    import torch
    import torch.distributed as dist

    die_with_launcher()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if use_gpu else "gloo"
    if use_gpu:
        if not torch.cuda.is_available():
            raise UserError(
                "Distributed GPU training was asked for but no CUDA GPU is visible",
                hint="Leave out --gpu-id to train on CPU with gloo.",
            )
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return DistContext(rank=rank, world_size=world, local_rank=local_rank, backend=backend)


def die_with_launcher() -> None:
    """Make this worker die when the torchrun agent that started it dies (Linux).

    torchrun starts each worker in a session of its own, so a launcher killed hard
    (SIGKILL, the OOM killer) would leave its workers running: still training, still
    writing into the output folder while a resumed run starts. The kernel's parent-death
    signal ends them with it. Elsewhere this is a no-op.
    """
    if "TORCHELASTIC_RUN_ID" not in os.environ or not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no prctl
        return
    if os.getppid() == 1:  # the launcher died before we asked
        os._exit(1)


def shutdown(wait_for_others: bool = False) -> None:
    """Leave the process group. ``wait_for_others`` (a run that ended normally on every rank):
    first wait until every rank is done, so none tears its connections down while another
    still uses them (gloo can abort a process that exits under a peer's open connection)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if wait_for_others:
            dist.barrier()
        dist.destroy_process_group()
