"""The run protocol: a recipe's phases run in order and it always closes; one reporter
prints, draws the bar and writes the logs, and only on rank 0."""

from __future__ import annotations

import io
import json

import pytest

from spacy_transfer.core.distributed.strategy import LocalStrategy
from spacy_transfer.core.recipe import Recipe, Reporter, RunOptions


class Steps(Recipe[list]):
    """A recipe that records its phases (and fails in ``run`` when asked)."""

    def __init__(self, options=None, fail: bool = False):
        super().__init__(options)
        self.phases, self.fail = [], fail

    def setup(self):
        self.phases.append("setup")

    def restore(self):
        self.phases.append("restore")

    def run(self):
        self.phases.append("run")
        if self.fail:
            raise RuntimeError("mid-run")
        return self.phases

    def close(self):
        self.phases.append("close")
        super().close()


def test_the_constructor_does_nothing_and_execute_runs_the_phases_in_order():
    recipe = Steps()
    assert recipe.phases == []
    assert recipe.execute() == ["setup", "restore", "run", "close"]


def test_a_recipe_closes_even_when_its_run_fails():
    recipe = Steps(fail=True)
    with pytest.raises(RuntimeError):
        recipe.execute()
    assert recipe.phases[-1] == "close"


class Rank1(LocalStrategy):
    rank = 1


def test_only_rank_0_prints_and_logs(tmp_path):
    out = io.StringIO()
    main = Steps(RunOptions(stdout=out))
    other = Steps(RunOptions(stdout=out, strategy=Rank1()))
    main.reporter.info("from rank 0")
    other.reporter.info("from rank 1")
    other.reporter.write_log(tmp_path / "log.jsonl", [{"step": 0}])
    assert "from rank 0" in out.getvalue() and "from rank 1" not in out.getvalue()
    assert not (tmp_path / "log.jsonl").exists()


def test_lines_go_above_the_live_bar_and_the_bar_goes_to_stderr():
    out, err = io.StringIO(), io.StringIO()
    reporter = Reporter(stdout=out, stderr=err, bar=True)
    bar = reporter.open_bar(total=3, unit="step")
    bar.update(1)
    reporter.warn("a long path /that/never/wraps " + "x" * 100)
    reporter.close_bar()
    assert "1/3" in err.getvalue()
    assert ("x" * 100) in out.getvalue() and "\n" not in out.getvalue().strip()


def test_without_a_terminal_there_is_no_bar_and_its_updates_cost_nothing():
    err = io.StringIO()
    reporter = Reporter(stdout=io.StringIO(), stderr=err)  # a StringIO is not a terminal
    reporter.open_bar(total=3).update(3)
    reporter.close_bar()
    assert err.getvalue() == ""


def test_logs_are_the_whole_history_or_one_more_line(tmp_path):
    reporter = Reporter(stdout=io.StringIO())
    path = tmp_path / "metrics.jsonl"
    reporter.write_log(path, [{"step": 0}, {"step": 1}])
    reporter.write_log(path, [{"step": 0}, {"step": 1}, {"step": 2}])
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [0, 1, 2]
    reporter.append_log(path, {"step": 3})
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [0, 1, 2, 3]


def test_options_given_as_keywords_keep_the_defaults_for_none():
    options = RunOptions.given(use_gpu=None, where="config.cfg", bar=None)
    assert options.use_gpu == -1 and options.where == "config.cfg" and options.bar is None
    assert isinstance(options.strategy, LocalStrategy)
