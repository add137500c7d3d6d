"""Ctrl-C and SIGTERM during training: finish the step, save, exit resumable."""

from __future__ import annotations

import contextlib
import signal
from typing import Any, Dict, Optional


class StopSignals:
    """Turn the first Ctrl-C / SIGTERM into a request to stop after the current step."""

    def __init__(self) -> None:
        self.received: Optional[int] = None
        self._previous: Dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        self.received = signum
        # A second signal ends the process the usual way.
        for sig, prev in self._previous.items():
            signal.signal(sig, prev)

    def __enter__(self) -> "StopSignals":
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handler)
        except ValueError:  # not the main thread: signals stay as they are
            self._previous = {}
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, prev in self._previous.items():
            with contextlib.suppress(ValueError):
                signal.signal(sig, prev)
