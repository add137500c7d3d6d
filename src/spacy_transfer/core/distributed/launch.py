"""Start N worker processes through ``torch.distributed.run`` (torchrun's engine).

``spacy-transfer train ... --nproc N`` re-runs the same command line under torchrun with
``--nproc`` removed; each worker then finds ``RANK``/``WORLD_SIZE`` in its environment.
A command started by ``torchrun`` itself runs unchanged (multi-node included). When a
rank fails, torchrun stops the others; each worker leaves its error in a file so the
launcher can say which rank failed and why, instead of a wall of tracebacks.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple, TypeVar

from ...errors import UserError
from .context import DistContext, init_from_env, shutdown
from .strategy import DistributedStrategy, LocalStrategy

T = TypeVar("T")

ERROR_DIR_ENV = "SPACY_TRANSFER_RANK_ERRORS"


def strip_nproc(argv: List[str]) -> List[str]:
    """The command line without ``--nproc N`` / ``--nproc=N``."""
    out: List[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--nproc":
            skip = True
            continue
        if arg.startswith("--nproc="):
            continue
        out.append(arg)
    return out


def torchrun_command(nproc: int, worker_argv: List[str]) -> List[str]:
    if nproc < 1:
        raise UserError(f"--nproc must be at least 1, got {nproc}")
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "--max-restarts=0",
        # Let torchrun stop the surviving ranks quickly when one fails.
        "--monitor-interval=0.5",
        "-m",
        "spacy_transfer",
        *worker_argv,
    ]


def launch(nproc: int, argv: List[str]) -> int:
    """Run ``spacy_transfer argv`` on ``nproc`` local ranks; report a failed rank clearly."""
    with tempfile.TemporaryDirectory(prefix="spacy-transfer-ranks-") as err_dir:
        env = {
            **os.environ,
            ERROR_DIR_ENV: err_dir,
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        }
        proc = subprocess.run(torchrun_command(nproc, strip_nproc(argv)), env=env)
        if proc.returncode == 0:
            return 0
        failures = read_rank_errors(Path(err_dir))
    if failures:
        rows = [(f"rank {rank}", message) for rank, message in failures]
        raise UserError(
            f"Distributed run failed on {len(failures)} rank(s)",
            rows=rows,
            hint="Fix the error above; `--resume` continues from the last checkpoint.",
        )
    raise UserError(
        f"Distributed run failed (torchrun exit code {proc.returncode})",
        hint="See torchrun's output above for the failing rank.",
    )


def record_rank_error(message: str) -> None:
    """Called by a worker that is about to exit with an error."""
    err_dir = os.environ.get(ERROR_DIR_ENV)
    rank = os.environ.get("RANK")
    if err_dir and rank is not None:
        Path(err_dir, f"rank{rank}.txt").write_text(message, encoding="utf8")


def read_rank_errors(err_dir: Path) -> List[Tuple[int, str]]:
    out = []
    for path in sorted(err_dir.glob("rank*.txt")):
        out.append((int(path.stem[4:]), path.read_text(encoding="utf8").strip()))
    return sorted(out)


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 or "TORCHELASTIC_RUN_ID" in os.environ


@contextlib.contextmanager
def rank_errors() -> Iterator[None]:
    """In a worker: leave the error for the launcher before exiting (no-op when alone)."""
    try:
        yield
    except UserError as e:
        record_rank_error(e.message)
        raise
    except Exception as e:
        record_rank_error(f"{type(e).__name__}: {e}")
        raise


def relaunch(nproc: int, config_path: str) -> bool:
    """For ``--nproc N`` outside torchrun: re-run this command on N ranks and return True.

    False means "carry on in this process" (one process, or already a torchrun worker).
    """
    if nproc <= 1 or launched_by_torchrun():
        return False
    if config_path == "-":
        raise UserError("--nproc cannot read the config from stdin", hint="Save the config to a file first.")
    launch(nproc, sys.argv[1:])
    return True


@dataclass(frozen=True)
class Launch:
    """What a command's body needs to know about the process it runs in."""

    strategy: LocalStrategy
    gpu_id: int  # -1 for the CPU; under torchrun with a GPU, this rank's local GPU
    context: Optional[DistContext]


def run_on_ranks(nproc: int, config_path: str, gpu_id: int, body: Callable[[Launch], T]) -> Optional[T]:
    """The launch sequence train and pretrain share: relaunch under torchrun for ``--nproc N``
    (None in the launcher once the workers are done), else join the process group if there is
    one, run ``body`` with this rank's strategy and GPU, report a failure to the launcher, and
    leave the process group whatever happens."""
    if relaunch(nproc, config_path):
        return None
    with rank_errors():
        context = init_from_env(use_gpu=gpu_id >= 0)
        finished = False
        try:
            strategy = DistributedStrategy(context) if context is not None else LocalStrategy()
            if context is not None and gpu_id >= 0:
                gpu_id = context.local_rank  # one GPU per rank
            result = body(Launch(strategy=strategy, gpu_id=gpu_id, context=context))
            finished = True
            return result
        finally:
            shutdown(wait_for_others=finished)  # after an error other ranks may be gone: no waiting
