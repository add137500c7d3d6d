"""Read configs from files or stdin, apply overrides, import user code."""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path
from typing import Any, Dict, Optional, Union

from confection import ConfigValidationError
from thinc.api import Config

from ...errors import UserError
from ..validation import check_registered_names, check_unknown_settings, config_errors

PathLike = Union[str, Path]


def source_name(path: PathLike) -> str:
    """How messages name a config: its path, or "standard input" for ``-``."""
    return "standard input" if str(path) == "-" else str(path)


def read_config_text(path: PathLike) -> str:
    """The config's text; ``-`` reads standard input."""
    if str(path) == "-":
        text = sys.stdin.read()
        if not text.strip():
            raise UserError(
                "No config was given on standard input",
                hint="Pipe a config in, e.g. 'cat config.cfg | spacy-transfer ... -'.",
            )
        return text
    p = Path(path)
    if not p.exists():
        raise UserError(
            f"Config file not found: {p}",
            hint="Check the path, or create one with 'spacy-transfer init config'.",
        )
    if p.is_dir():
        raise UserError(
            f"Expected a config file but got a directory: {p}", hint="Pass the path to config.cfg itself."
        )
    try:
        return p.read_text(encoding="utf8")
    except UnicodeDecodeError as e:
        raise UserError(f"Config file is not valid UTF-8: {p} ({e})") from None


def load_config(
    path: PathLike,
    overrides: Optional[Dict[str, Any]] = None,
    *,
    interpolate: bool = False,
) -> Config:
    """Parse a config, apply overrides. Errors become :class:`UserError` with the file name."""
    text = read_config_text(path)
    where = source_name(path)
    with config_errors(where):
        try:
            config = Config().from_str(text, overrides=overrides or {}, interpolate=False)
        except ConfigValidationError:
            raise  # config_errors() formats it (bad overrides come back this way too)
        except Exception as e:  # configparser's syntax errors
            raise UserError(
                f"Could not parse the config in {where}",
                rows=[(where, _one_line(e))],
                hint="Configs are INI files: '[section]' headers and 'key = value' lines with JSON values.",
            ) from None
        if interpolate:
            config = config.interpolate()
    return config


def import_code(path: Optional[PathLike]) -> None:
    """Import a user's Python file so the functions it registers exist before resolving."""
    if path is None or str(path) == "":
        return
    p = Path(path)
    if not p.exists():
        raise UserError(
            f"Code file not found: {p}",
            hint="--code takes the path of a Python file that registers your functions.",
        )
    if p.is_dir() or p.suffix not in (".py", ""):
        raise UserError(f"--code expects a Python file, got: {p}")
    module_name = f"spacy_transfer_user_code_{abs(hash(str(p.resolve())))}"
    try:
        spec = importlib.util.spec_from_file_location(module_name, str(p))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(module_name, None)
        tb = traceback.extract_tb(e.__traceback__)
        line = next((f"line {fr.lineno}" for fr in reversed(tb) if fr.filename == str(p)), "while importing")
        raise UserError(
            f"Could not import the code file {p}",
            rows=[(f"{p.name}, {line}", f"{type(e).__name__}: {e}")],
            hint="Fix the error in the file (run 'python FILE' to see the full traceback).",
        ) from e


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


def load_training_config(
    path: PathLike, overrides: Optional[Dict[str, Any]] = None, code: Optional[PathLike] = None
) -> Config:
    """What training-like commands do first: import code, read, check names, interpolate."""
    import_code(code)
    config = load_config(path, overrides, interpolate=False)
    check_registered_names(config, where=str(path))
    check_unknown_settings(config, where=str(path))
    with config_errors(str(path)):
        return config.interpolate()


__all__ = ["load_config", "read_config_text", "import_code", "load_training_config"]
