"""The run protocol that ``train``, ``pretrain`` and ``distill`` share, and the one reporter
that prints for them.

A recipe (torchtune's shape) is built by a cheap constructor that only keeps its arguments;
the work happens in explicit phases, in this order::

    setup()    the config checked, the device chosen, the pipeline and what trains it built
    restore()  a checkpoint applied, or every rank made to start from the same weights
    run()      the loop; returns the command's result
    close()    what set-up opened released (the live bar, a config's logger); always called

:meth:`Recipe.execute` runs the four. The :class:`Reporter` carries every line the user sees:
messages, the table rows, the live bar (or nothing on a rank other than 0) and the JSONL logs.
Whether this process prints is decided once, here, from the strategy's rank.
"""

from __future__ import annotations

import json
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Dict, Generic, Iterable, Optional, TypeVar

import srsly
from wasabi import Printer, color

from .distributed.strategy import LocalStrategy
from .io import atomic_write_text

R = TypeVar("R")


def is_tty(stream: IO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Reporter:
    """What a run prints and logs. Disabled (ranks other than 0), it prints and logs nothing.

    Lines go to ``stdout``; the live bar (tqdm) to ``stderr``, when it is a terminal or ``bar``
    says so. While a bar is open, lines are written above it.
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        stdout: Optional[IO] = None,
        stderr: Optional[IO] = None,
        bar: Optional[bool] = None,
    ) -> None:
        self.enabled = enabled
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.use_bar = enabled and (is_tty(self.stderr) if bar is None else bar)
        self.msg = Printer(no_print=True, pretty=True)
        self.bar: Any = None

    # --- lines ---

    def write(self, text: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.stdout)
        else:
            print(text, file=self.stdout, flush=True)

    def _line(self, icon: str, fg: int, text: str) -> str:
        # wasabi's messages wrap at 80 columns, which breaks paths; these never wrap.
        line = f"{icon} {text}"
        return color(line, fg=fg) if self.msg.show_color else line

    def info(self, text: str) -> None:
        self.write(self._line("ℹ", 4, text))

    def good(self, text: str) -> None:
        self.write(self._line("✔", 2, text))

    def warn(self, text: str) -> None:
        self.write(self._line("⚠", 3, text))

    def text(self, text: str) -> None:
        self.write(text)

    def divider(self, text: str) -> None:
        self.write(self.msg.divider(text))

    def row(self, cells: Iterable[Any], **settings: Any) -> None:
        self.write(self.msg.row(list(cells), **settings))

    def table(self, data: Any, **settings: Any) -> None:
        self.write(self.msg.table(data, **settings))

    # --- the live bar ---

    def open_bar(self, **settings: Any) -> Any:
        """A tqdm bar on ``stderr`` (disabled when there is no live bar: its updates cost nothing)."""
        from tqdm import tqdm

        self.close_bar()
        bar = tqdm(file=self.stderr, disable=not self.use_bar, **settings)
        self.bar = bar if self.use_bar else None
        return bar

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    # --- logs ---

    def write_log(self, path: Path, rows: Iterable[Dict[str, Any]]) -> None:
        """``path`` rewritten atomically with one JSON object per line (the whole history)."""
        if self.enabled:
            atomic_write_text(path, "".join(json.dumps(row) + "\n" for row in rows))

    def append_log(self, path: Path, row: Dict[str, Any]) -> None:
        """One line added to ``path`` (compact JSON, as spaCy's pretraining log), the file
        replaced atomically."""
        if self.enabled:
            previous = path.read_text(encoding="utf8") if path.exists() else ""
            atomic_write_text(path, previous + srsly.json_dumps(row) + "\n")


@dataclass
class RunOptions:
    """How a recipe runs: on which device, as which rank, reading what, printing where."""

    use_gpu: int = -1
    strategy: LocalStrategy = field(default_factory=LocalStrategy)
    where: str = "config"  # the config's name in messages: its path, or "standard input"
    stdout: Optional[IO] = None
    stderr: Optional[IO] = None
    bar: Optional[bool] = None  # a live bar; None: when stderr is a terminal

    @classmethod
    def given(cls, **options: Any) -> "RunOptions":
        """The options a function's keyword arguments set (None: the default)."""
        return cls(**{k: v for k, v in options.items() if v is not None})


class Recipe(ABC, Generic[R]):
    """A command as a cheap constructor and four phases (see the module)."""

    def __init__(self, options: Optional[RunOptions] = None, reporter: Optional[Reporter] = None) -> None:
        """``reporter``: the one of a recipe that runs this one as a part (``distill``'s training)."""
        self.options = options or RunOptions()
        self.strategy = self.options.strategy
        self.where = self.options.where
        self.reporter = reporter or Reporter(
            enabled=self.strategy.is_main,  # rank 0 alone prints
            stdout=self.options.stdout,
            stderr=self.options.stderr,
            bar=self.options.bar,
        )

    @abstractmethod
    def setup(self) -> None:
        """Check the config, choose the device, build the pipeline and what trains it."""

    def restore(self) -> None:
        """Continue from a checkpoint, or start every rank from the same weights."""

    @abstractmethod
    def run(self) -> R:
        """The loop."""

    def close(self) -> None:
        self.reporter.close_bar()

    def execute(self) -> R:
        try:
            self.setup()
            self.restore()
            return self.run()
        finally:
            self.close()
