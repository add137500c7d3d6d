"""Checks of the pipeline's shape, between building it and initializing it: names in
[training] that exist, adapters that can train, listeners with an upstream of their width.

spaCy reports these late (E203 at the first batch, a blis shape error) or not at all; each
becomes a :class:`UserError` that names the setting to fix. :func:`check_built` runs them all.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from spacy.language import Language
from thinc.api import Model

from .checks import fail_if_any


def check_built(nlp: Language, frozen: List[str], annotating: List[str]) -> None:
    """Every check of the built, linked pipeline, before it is initialized."""
    check_frozen_in_pipeline(nlp, frozen, annotating)
    check_frozen_adapters(nlp, frozen)
    check_listeners(nlp)


def check_frozen_in_pipeline(nlp: Language, frozen: List[str], annotating: List[str]) -> None:
    rows = [
        (f"[training] {setting}", f"'{name}' is not in the pipeline")
        for setting, names in (("frozen_components", frozen), ("annotating_components", annotating))
        for name in names
        if name not in nlp.component_names
    ]
    fail_if_any(
        rows,
        "A component named in [training] is not in the pipeline",
        ("setting", "problem"),
        f"Use names from [nlp] pipeline: {', '.join(nlp.pipe_names)}.",
    )


def check_frozen_adapters(nlp: Language, frozen: List[str]) -> None:
    """Adapters on a transformer frozen as a whole would never train: a contradiction."""
    from ..transformer.model_files import hf_shims

    rows = []
    for name, proc in nlp.pipeline:
        model = getattr(proc, "model", None)
        whole = name in frozen or bool(getattr(proc, "frozen", False))
        if whole and isinstance(model, Model) and any(s.adapter is not None for s in hf_shims(model)):
            setting = "[training] frozen_components" if name in frozen else f"[components.{name}] frozen"
            rows.append((name, f"has an adapter block and is frozen ({setting})"))
    fail_if_any(
        rows,
        "An adapter is set on a transformer that is frozen as a whole, so it would never train",
        ("component", "problem"),
        "Remove the component from [training] frozen_components (with an adapter only the adapters and the "
        "heads train), or set its model's adapter = null to keep the whole transformer as it is.",
    )


def _listeners(model: Model) -> List[Model]:
    from spacy.pipeline.tok2vec import Tok2VecListener

    from ..transformer.listener import TransformerListener

    return [node for node in model.walk() if isinstance(node, (Tok2VecListener, TransformerListener))]


def _listener_setting(config: Dict[str, Any], component: str) -> str:
    """The config section of a component's listener block, e.g. [components.ner.model.tok2vec]."""

    def find(node: Any, path: str) -> Optional[str]:
        if isinstance(node, dict):
            if "Listener" in str(node.get("@architectures", "")):
                return path
            for key, value in node.items():
                found = find(value, f"{path}.{key}")
                if found:
                    return found
        return None

    return (
        find((config.get("components") or {}).get(component), f"components.{component}")
        or f"components.{component}"
    )


def check_listeners(nlp: Language) -> None:
    """Every listener has an upstream component, and the width that upstream produces."""
    upstreams = {name: proc for name, proc in nlp.pipeline if hasattr(proc, "listening_components")}
    rows = []
    for name, proc in nlp.pipeline:
        model = getattr(proc, "model", None)
        if not isinstance(model, Model) or name in upstreams:
            continue
        for listener in _listeners(model):
            setting = _listener_setting(nlp.config, name)
            feeding = [u for u, up in upstreams.items() if name in up.listening_components]
            if not feeding:
                wanted = listener.upstream_name
                rows.append(
                    (
                        f"[{setting}]",
                        f'listens to upstream = "{wanted}", but the pipeline has no '
                        f"{'tok2vec or transformer component' if wanted == '*' else repr(wanted) + ' component'} before {name}",
                    )
                )
                continue
            up_model = upstreams[feeding[0]].model
            if (
                listener.has_dim("nO")
                and up_model.has_dim("nO")
                and listener.get_dim("nO") != up_model.get_dim("nO")
            ):
                rows.append(
                    (
                        f"[{setting}] width",
                        f"is {listener.get_dim('nO')}, but '{feeding[0]}' outputs vectors of width "
                        f"{up_model.get_dim('nO')}",
                    )
                )
    fail_if_any(
        rows,
        "A listener cannot be connected to the layer it listens to",
        ("setting", "problem"),
        "Give each listener the width of its upstream (e.g. width = ${components.tok2vec.model.encode.width}); "
        "add the upstream tok2vec/transformer to [nlp] pipeline before its listeners, or give the component "
        "its own embedding layer ('init config --embedding independent').",
    )
