"""Command-line interface. Each command lives in its own module in this package and
registers itself on the shared Typer app when imported."""

from __future__ import annotations

import importlib
import pkgutil
import sys

from ._app import app, init_app


def _load_commands() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_load_commands()


def main() -> None:
    from ..core.allocator import start_training_process
    from ..errors import UserError
    from ._util import print_user_error

    try:  # before anything is loaded: a training command restarts itself on tcmalloc
        start_training_process(sys.argv[1:])
    except UserError as err:
        print_user_error(err)
        raise SystemExit(1) from None
    app()


__all__ = ["app", "init_app", "main"]
