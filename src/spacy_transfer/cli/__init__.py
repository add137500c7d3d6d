"""Command-line interface. Each command lives in its own module in this package and
registers itself on the shared Typer app when imported."""

from __future__ import annotations

import importlib
import pkgutil

from ._app import app, init_app


def _load_commands() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_load_commands()


def main() -> None:
    app()


__all__ = ["app", "init_app", "main"]
