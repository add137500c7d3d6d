"""The launch sequence train and pretrain share (``run_on_ranks``), in one process."""

from __future__ import annotations

import pytest

from spacy_transfer.core.distributed import (
    DistContext,
    DistributedStrategy,
    Launch,
    LocalStrategy,
    run_on_ranks,
)
from spacy_transfer.errors import UserError


@pytest.fixture
def alone(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)


def test_alone_the_body_runs_here_with_the_local_strategy_and_its_result_comes_back(alone):
    seen = []

    def body(launch: Launch) -> str:
        seen.append(launch)
        return "done"

    assert run_on_ranks(1, "config.cfg", -1, body) == "done"
    (launch,) = seen
    assert type(launch.strategy) is LocalStrategy and launch.strategy.is_main
    assert launch.context is None and launch.gpu_id == -1
    assert launch.strategy.describe(launch.gpu_id) == "CPU"


def test_an_error_in_the_body_comes_out_as_it_is(alone):
    def body(launch: Launch) -> None:
        raise UserError("bad setting", hint="fix it")

    with pytest.raises(UserError, match="bad setting"):
        run_on_ranks(1, "config.cfg", -1, body)


def test_several_processes_cannot_read_the_config_from_stdin(alone):
    with pytest.raises(UserError, match="stdin"):
        run_on_ranks(2, "-", -1, lambda launch: None)


def test_the_run_header_names_the_device_and_the_processes():
    assert LocalStrategy().describe(0) == "GPU 0"
    ctx = DistContext(rank=0, world_size=2, local_rank=0, backend="gloo")
    assert DistributedStrategy(ctx).describe(-1) == "2 processes (gloo), CPU"
    one = DistContext(rank=0, world_size=1, local_rank=0, backend="nccl")
    assert DistributedStrategy(one).describe(0) == "1 process (nccl), one GPU each"
