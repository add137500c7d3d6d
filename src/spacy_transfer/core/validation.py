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
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import catalogue
from confection import ConfigValidationError
from spacy import util

from ..errors import UserError

FILL_HINT = (
    "Run 'spacy-transfer init fill-config CONFIG CONFIG' to add missing defaults, then check the values."
)


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
        rows.append(
            (f"[{section}]", f"'{func_name}' is not a registered function in @{reg_name}{suggestion}")
        )
    if rows:
        raise UserError(
            f"Unknown registered function name(s) in {where}",
            rows=rows,
            hint="Check the spelling ('spacy-transfer info' lists the registered names), "
            "or pass --code FILE with the file that registers your own functions.",
        )


def format_validation_error(e: ConfigValidationError, where: str, section: Optional[str] = None) -> UserError:
    """``section``: the block that was validated on its own (its errors' locations are
    relative to it), so each row names the full setting, e.g. training -> max_steps."""
    rows = []
    for err in e.errors or []:
        parts = [str(p) for p in err.get("loc", [])]
        if section and parts and parts[0] != section:
            parts = [section, *parts]
        text = err.get("msg", "")
        undefined = re.match(r"Section '(.+)' is not defined", text)
        if undefined and undefined.group(1) in parts:
            parent = ".".join(parts[: parts.index(undefined.group(1)) + 1])
            rows.append((f"[{parent}]", f"section is missing, but [{'.'.join(parts)}] is defined"))
        else:
            rows.append((".".join(parts) or "config", text))  # also the override's name: --training.max_steps
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
    elif "is not" in text or "should be" in text:
        hint = "A value has the wrong type; give a value of the type named above."
    return UserError(f"{title} ({where})", rows=rows, hint=hint)


@contextlib.contextmanager
def config_errors(where: str = "config", section: Optional[str] = None) -> Iterator[None]:
    """Translate config-level exceptions raised inside the block into :class:`UserError`."""
    try:
        yield
    except UserError:
        raise
    except ConfigValidationError as e:
        raise format_validation_error(e, where, section) from e
    except catalogue.RegistryError as e:
        raise UserError(
            f"Unknown registered function ({where})",
            rows=[(where, " ".join(str(e).split()))],
            hint="Check the name, or pass --code FILE to register your own.",
        ) from e
    except (ValueError, KeyError, TypeError) as e:
        text = " ".join(str(e).split())
        if text.startswith(("[E", "[W", "'[E")) or "config" in text.lower():
            raise UserError(f"Invalid config ({where})", rows=[(where, text)], hint=FILL_HINT) from e
        raise


def check_vectors_path(config: Dict[str, Any]) -> None:
    """[initialize] vectors names an installed package or a pipeline folder (spaCy's E884
    says only that it was not found, after the pipeline was built)."""
    vectors = (config.get("initialize") or {}).get("vectors")
    if not isinstance(vectors, str) or not vectors:
        return
    from spacy.util import is_package

    path = Path(vectors)
    problem = None
    if not path.exists():
        if is_package(vectors):
            return
        problem = f"{path} does not exist (and is not an installed package)"
    elif path.is_file():
        problem = f"{path} is a file; a vectors pipeline folder is expected"
    elif not (path / "config.cfg").exists() or not (path / "vocab").is_dir():
        problem = f"{path} is not a pipeline folder (no config.cfg and vocab/)"
    if problem:
        raise UserError(
            "The vectors given for [initialize] vectors cannot be loaded",
            rows=[("[initialize] vectors (--paths.vectors)", problem)],
            header=("setting", "problem"),
            hint="Make a vectors pipeline from your vectors file with "
            "`spacy-transfer init vectors en VECTORS_FILE OUTPUT_DIR` and pass --paths.vectors OUTPUT_DIR.",
        )


def _schema_fields(schema: Any) -> List[str]:
    fields = getattr(schema, "model_fields", None) or schema.__fields__
    return list(fields)


def check_unknown_settings(config: Dict[str, Any], where: str = "config") -> None:
    """Settings of [nlp], [training], [initialize] and [pretraining] that spaCy does not
    know: a typo there (``max_stepz``) is otherwise ignored without a word."""
    from spacy.schemas import ConfigSchemaInit, ConfigSchemaNlp, ConfigSchemaPretrain, ConfigSchemaTraining

    schemas = {
        "nlp": ConfigSchemaNlp,
        "training": ConfigSchemaTraining,
        "initialize": ConfigSchemaInit,
        "pretraining": ConfigSchemaPretrain,
    }
    rows = []
    for section, schema in schemas.items():
        block = config.get(section)
        if not isinstance(block, dict):
            continue
        known = _schema_fields(schema)
        for key in block:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                rows.append(
                    (
                        f"[{section}] {key}",
                        f"is not a setting of [{section}]"
                        + (f"; did you mean '{close[0]}'?" if close else ""),
                    )
                )
    if rows:
        raise UserError(
            f"Unknown settings in {where}",
            rows=rows,
            header=("setting", "problem"),
            hint="Fix the spelling, or remove the line (spaCy would ignore it).",
        )


def check_language(lang: str, setting: str = "lang") -> None:
    """``lang`` is a language spaCy has (else: the closest codes it does have)."""
    from spacy.util import get_lang_class, registry

    try:
        get_lang_class(lang)
    except (ImportError, KeyError):
        known = sorted(registry.languages.get_all().keys())
        close = difflib.get_close_matches(lang, known, n=3)
        raise UserError(
            f"Unknown language '{lang}'",
            rows=[(setting, lang)],
            hint=(f"Did you mean: {', '.join(close)}? " if close else "")
            + "Use a spaCy language code such as en, de, xx.",
        ) from None
