"""The one error type for user mistakes.

Anything the user can fix (a bad config, a missing file, a wrong option) raises
:class:`UserError`. The CLI prints it as ``✘ message``, an optional table of details
and a hint, and exits 1; tracebacks appear only with ``--verbose``.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Tuple


class UserError(Exception):
    """A problem in the user's input, with what went wrong, where, and how to fix it."""

    def __init__(
        self,
        message: str,
        *,
        hint: Optional[str] = None,
        rows: Optional[Iterable[Tuple[str, str]]] = None,
        header: Sequence[str] = ("where", "problem"),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.rows = [(str(a), str(b)) for a, b in (rows or [])]
        self.header = tuple(header)

    def __str__(self) -> str:
        parts = [self.message]
        parts += [f"  {a}: {b}" for a, b in self.rows]
        if self.hint:
            parts.append(f"Hint: {self.hint}")
        return "\n".join(parts)
