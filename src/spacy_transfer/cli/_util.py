"""What every command shares: printing user errors, parsing overrides."""

from __future__ import annotations

import contextlib
import sys
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, List

import typer
from wasabi import msg

from ..core.config import parse_overrides
from ..errors import UserError


def print_user_error(err: UserError) -> None:
    msg.fail(err.message)
    if err.rows:
        msg.table(err.rows, header=err.header, divider=True)
    if err.hint:
        msg.text(f"Hint: {err.hint}")


@contextlib.contextmanager
def _our_warnings_as_messages(verbose: bool) -> Iterator[None]:
    """Our own warnings print as ``⚠ message`` (no source line); others as Python shows them."""
    package = str(Path(__file__).resolve().parents[1])
    shown = warnings.showwarning

    def show(message: Any, category: Any, filename: str, lineno: int, *args: Any, **kwargs: Any) -> None:
        if not verbose and str(filename).startswith(package) and issubclass(category, UserWarning):
            msg.warn(str(message))
        else:
            shown(message, category, filename, lineno, *args, **kwargs)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


@contextlib.contextmanager
def handle_errors(verbose: bool = False) -> Iterator[None]:
    """Print user errors as ``✘ message`` + table + hint and exit 1 (traceback with --verbose)."""
    try:
        with _our_warnings_as_messages(verbose):
            yield
    except UserError as e:
        if verbose:
            import traceback

            traceback.print_exc()
        print_user_error(e)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        msg.warn("Interrupted")
        raise typer.Exit(130) from None


def overrides_from(ctx: typer.Context) -> Dict[str, Any]:
    """Config overrides from the command's extra arguments and SPACY_CONFIG_OVERRIDES."""
    return parse_overrides(list(ctx.args))


def write_or_print(text: str, output: str, force: bool, what: str = "config") -> None:
    """Write ``text`` to ``output`` atomically, or to stdout for ``-``."""
    from ..core.io import atomic_write_text

    if output == "-":
        sys.stdout.write(text)
        return
    path = Path(output)
    if path.exists() and not force:
        raise UserError(
            f"{path} already exists, not overwriting it",
            hint="Pass --force to replace it, or choose another path.",
        )
    if path.is_dir():
        raise UserError(
            f"{path} is a directory", hint=f"Give a file path for the {what}, e.g. {path}/config.cfg."
        )
    atomic_write_text(path, text)


VerboseOpt = typer.Option(False, "--verbose", "-V", help="Show tracebacks for errors.")
# The options several commands share, declared once so that they read the same everywhere.
CodeOpt = typer.Option(None, "--code", "-c", help="Python file with registered functions to import first.")
GpuOpt = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for the CPU.")
NprocOpt = typer.Option(
    1,
    "--nproc",
    help="Data-parallel worker processes through torch.distributed (gloo on CPU, NCCL with one GPU per rank).",
)


def listify(value: str) -> List[str]:
    return [p.strip() for p in value.split(",") if p.strip()]
