"""Turn config problems into readable :class:`UserError` s.

confection reports problems as ``ConfigValidationError`` with a list of locations, and
catalogue as ``RegistryError``; spaCy adds ``ValueError`` s with ``[E...]`` codes. We
translate all three into one error with a table and a hint, and check every
``@registry`` reference up front so a typo names the closest known functions.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from typing import Any, Dict, Iterator, List, Tuple

import catalogue
from confection import ConfigValidationError
from spacy import util

from ...errors import UserError

FILL_HINT = "Run 'spacy-transfer init fill-config CONFIG CONFIG' to add missing defaults, then check the values."


def known_names(registry_name: str) -> List[str]:
    reg = getattr(util.registry, registry_name, None)
    if reg is None:
        return []
    return sorted(reg.get_all().keys())


def iter_references(config: Dict[str, Any], path: Tuple[str, ...] = ()) -> Iterator[Tuple[str, str, str]]:
    """Yield (section path, registry name, function name) for every ``@registry`` key."""
    for key, value in config.items():
        if isinstance(key, str) and key.startswith("@"):
            yield ".".join(path), key[1:], str(value)
        elif isinstance(value, dict):
            yield from iter_references(value, path + (str(key),))


def check_registered_names(config: Dict[str, Any], where: str = "config") -> None:
    """Fail with the closest known names when a config refers to an unknown function."""
    rows = []
    for section, reg_name, func_name in iter_references(config):
        if not hasattr(util.registry, reg_name):
            rows.append((f"[{section}]", f"unknown registry '@{reg_name}'"))
            continue
        if util.registry.has(reg_name, func_name):
            continue
        close = difflib.get_close_matches(func_name, known_names(reg_name), n=3, cutoff=0.6)
        suggestion = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        rows.append((f"[{section}]", f"'{func_name}' is not a registered function in @{reg_name}{suggestion}"))
    if rows:
        raise UserError(
            f"Unknown registered function name(s) in {where}",
            rows=rows,
            hint="Check the spelling ('spacy-transfer info' lists the registered names), "
            "or pass --code FILE with the file that registers your own functions.",
        )


def format_validation_error(e: ConfigValidationError, where: str) -> UserError:
    rows = []
    for err in e.errors or []:
        parts = [str(p) for p in err.get("loc", [])]
        text = err.get("msg", "")
        undefined = re.match(r"Section '(.+)' is not defined", text)
        if undefined and undefined.group(1) in parts:
            parent = ".".join(parts[: parts.index(undefined.group(1)) + 1])
            rows.append((f"[{parent}]", f"section is missing, but [{'.'.join(parts)}] is defined"))
        else:
            rows.append((" -> ".join(parts) or "config", text))
    title = " ".join((e.title or "Config validation error").split())
    if not rows and e.desc:
        rows.append((where, " ".join(e.desc.split())))
    hint = FILL_HINT
    text = (e.desc or "") + " ".join(r[1] for r in rows)
    if "interpolat" in text or "substitution" in text:
        hint = "A ${section.key} reference points to a setting that does not exist; fix its spelling or add the setting."
    elif "is not defined" in text:
        hint = "A section is referenced but not defined: add it to the config, or remove the reference."
    elif "missing required argument" in text:
        hint = "These arguments have no default: set a value for each in the section named above."
    elif "field required" in text or "missing" in text.lower():
        hint = FILL_HINT
    elif "is not" in text:
        hint = "A value has the wrong type; give a value of the type named above."
    return UserError(f"{title} ({where})", rows=rows, hint=hint)


@contextlib.contextmanager
def config_errors(where: str = "config") -> Iterator[None]:
    """Translate config-level exceptions raised inside the block into :class:`UserError`."""
    try:
        yield
    except UserError:
        raise
    except ConfigValidationError as e:
        raise format_validation_error(e, where) from e
    except catalogue.RegistryError as e:
        raise UserError(f"Unknown registered function ({where})", rows=[(where, " ".join(str(e).split()))],
                        hint="Check the name, or pass --code FILE to register your own.") from e
    except (ValueError, KeyError, TypeError) as e:
        text = " ".join(str(e).split())
        if text.startswith(("[E", "[W", "'[E")) or "config" in text.lower():
            raise UserError(f"Invalid config ({where})", rows=[(where, text)], hint=FILL_HINT) from e
        raise
