"""Complete a partial config with every default (``init fill-config``)."""

from __future__ import annotations

import difflib
from typing import Optional

from spacy import util
from thinc.api import Config

from ...errors import UserError
from ...registry import TRANSFORMER_FACTORIES
from ...templates import template_path
from ..validation import check_registered_names, config_errors


def pretraining_defaults(config: Config) -> Config:
    """The [pretraining] defaults to merge into ``config``: spaCy's (characters objective on
    the tok2vec layer), or masked-LM pretraining when the shared embedding is a transformer."""
    transformer = _transformer_component(config)
    name = "pretraining_transformer.cfg" if transformer else "pretraining.cfg"
    defaults = Config().from_str(template_path(name).read_text(encoding="utf8"), interpolate=False)
    if transformer:
        defaults["pretraining"]["component"] = transformer
    return defaults


def _transformer_component(config: Config) -> Optional[str]:
    """The pipeline's transformer component, if it has one and no tok2vec component."""
    pipeline = config.get("nlp", {}).get("pipeline", [])
    components = config.get("components", {})
    factories = {name: (components.get(name) or {}).get("factory") for name in pipeline}
    if "tok2vec" in factories.values():
        return None
    return next((name for name, factory in factories.items() if factory in TRANSFORMER_FACTORIES), None)


def check_pretraining_target(config: Config, where: str) -> None:
    component = config.get("pretraining", {}).get("component", "tok2vec")
    pipeline = config.get("nlp", {}).get("pipeline", [])
    if component not in pipeline:
        raise UserError(
            f"The [pretraining] block names component '{component}', which is not in the pipeline ({where})",
            rows=[("nlp.pipeline", ", ".join(pipeline) or "(empty)")],
            hint="Set [pretraining] component to the tok2vec or transformer component of the pipeline.",
        )


def fill_config(config: Config, *, pretraining: bool = False, where: str = "config") -> Config:
    """Return ``config`` with all defaults filled in and validated by spaCy."""
    check_registered_names(config, where=where)
    _ensure_nlp_section(config, where)
    with config_errors(where):
        nlp = util.load_model_from_config(config, auto_fill=True, validate=True)
        filled = nlp.config
        if pretraining:
            filled = pretraining_defaults(filled).merge(filled)
            check_pretraining_target(filled, where)
        # Interpolating once proves every ${...} reference resolves.
        filled.interpolate()
    return filled


def _ensure_nlp_section(config: Config, where: str) -> None:
    nlp = config.get("nlp")
    if not isinstance(nlp, dict) or "lang" not in nlp:
        raise UserError(
            f"The config has no [nlp] section with a 'lang' setting ({where})",
            rows=[("[nlp]", "missing" if not isinstance(nlp, dict) else "no 'lang' key")],
            hint='Add e.g. \'[nlp]\\nlang = "en"\\npipeline = ["tok2vec","ner"]\'.',
        )
    for name in nlp.get("pipeline", []):
        if name not in config.get("components", {}):
            raise UserError(
                f"Component '{name}' is in [nlp] pipeline but has no [components.{name}] section ({where})",
                rows=[(f"[components.{name}]", "missing section")],
                hint=f"Add a [components.{name}] section with a 'factory' (or 'source') setting, or remove it from the pipeline.",
            )


def config_diff(before: str, after: str) -> str:
    """A unified diff of two config texts (what fill-config added)."""
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), "base", "filled", lineterm="")
    return "\n".join(lines)
