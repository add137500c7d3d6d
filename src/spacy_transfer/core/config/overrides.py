"""Config overrides given as extra CLI options (``--section.key value``) or through
the ``SPACY_CONFIG_OVERRIDES`` environment variable, as in spaCy."""

from __future__ import annotations

import os
import shlex
from typing import Any, Dict, List, Optional

import srsly

from ...errors import UserError

ENV_VAR = "SPACY_CONFIG_OVERRIDES"


def parse_value(value: str) -> Any:
    """JSON when it parses (numbers, booleans, lists, quoted strings), else the raw string."""
    try:
        return srsly.json_loads(value)
    except ValueError:
        return value


def parse_override_args(args: List[str], source: str = "command line") -> Dict[str, Any]:
    """Turn ``["--training.seed", "3", "--nlp.lang=de", "--x.flag"]`` into a flat dict."""
    result: Dict[str, Any] = {}
    args = list(args)
    while args:
        opt = args.pop(0)
        if not opt.startswith("--"):
            raise UserError(
                f"Unexpected argument '{opt}' on the {source}",
                hint="Config overrides look like '--section.key value', e.g. '--training.max_steps 100'.",
            )
        name = opt[2:]
        if "=" in name:
            name, value = name.split("=", 1)
        elif not args or args[0].startswith("--"):
            value = "true"  # a bare flag
        else:
            value = args.pop(0)
        if "." not in name or name.startswith(".") or name.endswith("."):
            raise UserError(
                f"Invalid config override '{opt}' on the {source}: it must name a setting inside a section",
                hint="Use '--section.key value', e.g. '--paths.train corpus/train.spacy'; "
                "top-level sections cannot be replaced as a whole.",
            )
        result[name] = parse_value(value)
    return result


def parse_overrides(args: List[str], env_var: Optional[str] = ENV_VAR) -> Dict[str, Any]:
    """Overrides from the CLI merged with those from the environment (the environment wins,
    as in spaCy, so CI can pin values whatever the command line says)."""
    env_text = os.environ.get(env_var, "") if env_var else ""
    env = parse_override_args(shlex.split(env_text), source=f"${env_var} variable") if env_text else {}
    return {**parse_override_args(args), **env}
