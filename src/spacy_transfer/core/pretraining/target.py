"""Find the layer that ``[pretraining]`` names: ``component`` / ``layer``, listeners
resolved to their upstream component, as spaCy's ``pretrain`` does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from spacy.language import Language
from thinc.api import Model

from ...errors import UserError
from ...registry import TRANSFORMER_FACTORIES

SAMPLE_TEXT = "Give it a doc to infer shapes"


@dataclass
class PretrainTarget:
    """The pretrained layer and where it lives."""

    model: Model
    component: str  # the component that owns ``model`` (the upstream of a listener)
    layer: str  # the [pretraining] layer setting ("" = the component's whole model)
    is_transformer: bool  # a transformer component's model (or a layer containing one)

    @property
    def where(self) -> str:
        return f"component '{self.component}'" + (f", layer '{self.layer}'" if self.layer else "")


def find_target(nlp: Language, component: Optional[str], layer: str) -> PretrainTarget:
    """The layer to pretrain; listeners are replaced by their upstream component's model."""
    if not component:
        raise UserError(
            "[pretraining] component is not set",
            rows=[("[pretraining] component", "null")],
            hint='Name the tok2vec or transformer component to pretrain, e.g. component = "tok2vec".',
        )
    if component not in nlp.component_names:
        raise UserError(
            f"[pretraining] component '{component}' is not in the pipeline",
            rows=[("[nlp] pipeline", ", ".join(nlp.component_names) or "(empty)")],
            hint="Set [pretraining] component to one of the pipeline's components (usually 'tok2vec' or 'transformer').",
        )
    proc = nlp.get_pipe(component)
    model = getattr(proc, "model", None)
    if not isinstance(model, Model):
        raise UserError(
            f"Component '{component}' has no trainable model to pretrain",
            rows=[(f"[components.{component}]", f"a {type(proc).__name__}")],
            hint="Pretrain a component with a tok2vec layer (tok2vec, tagger, parser, ner, ...) or a transformer.",
        )
    owner = component
    if layer:
        if not model.has_ref(layer):
            refs = sorted(model.ref_names)
            raise UserError(
                f"Component '{component}' has no layer '{layer}'",
                rows=[
                    (
                        "[pretraining] layer",
                        f"'{layer}' not found; the model's layers: {', '.join(refs) or '(none)'}",
                    )
                ],
                hint='Set layer to one of those names, or to "" to pretrain the component\'s whole model.',
            )
        model = model.get_ref(layer)
    if _is_listener(model):
        owner = _upstream_of(nlp, model)
        model = nlp.get_pipe(owner).model
    return PretrainTarget(
        model=model, component=owner, layer=layer, is_transformer=_is_transformer(nlp, owner, model)
    )


def _is_listener(model: Model) -> bool:
    # Tok2VecListener and TransformerListener both carry the upstream's name.
    return hasattr(model, "upstream_name") and type(model).__name__.endswith("Listener")


def _upstream_of(nlp: Language, listener: Model) -> str:
    """The component a listener listens to: the one that registered it, else by name."""
    for name, proc in nlp.components:
        for listeners in getattr(proc, "listener_map", {}).values():
            if any(m is listener for m in listeners):
                return name
    wanted: str = listener.upstream_name  # type: ignore[attr-defined]
    if wanted != "*":
        candidates = [wanted]
    else:
        # '*' means "whichever upstream component is in the pipeline" (spaCy: tok2vec).
        kinds = TRANSFORMER_FACTORIES if "Transformer" in type(listener).__name__ else ("tok2vec",)
        candidates = [n for n, p in nlp.components if _factory(nlp, n) in kinds] or [kinds[-1]]
    for name in candidates:
        if name in nlp.component_names:
            return name
    raise UserError(
        f"The pretraining layer is a listener, but its upstream component '{candidates[0]}' is not in the pipeline",
        rows=[("[nlp] pipeline", ", ".join(nlp.component_names))],
        hint="Add the upstream tok2vec/transformer component, or pretrain a component with its own embedding layer.",
    )


def _factory(nlp: Language, name: str) -> str:
    return str(nlp.get_pipe_meta(name).factory)


def _is_transformer(nlp: Language, component: str, model: Model) -> bool:
    if _factory(nlp, component) in TRANSFORMER_FACTORIES:
        return True
    return any(type(shim).__name__ == "HFShim" for node in model.walk() for shim in node.shims)


def check_tok2vec_layer(nlp: Language, target: PretrainTarget) -> None:
    """Initialize the layer and check it maps docs to one vector per token."""
    doc = nlp.make_doc(SAMPLE_TEXT)
    try:
        target.model.initialize(X=[doc])
        output: Any = target.model.predict([doc])
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(
            f"Could not run the pretraining layer ({target.where}) on a doc",
            rows=[(target.where, " ".join(str(e).split())[:300])],
            hint="The layer must be a tok2vec layer (Model[List[Doc], List[Floats2d]]); "
            "check [pretraining] component and layer (spaCy E874).",
        ) from e
    if not _is_token_vectors(output, [doc]):
        raise UserError(
            f"The pretraining layer ({target.where}) is not a tok2vec layer",
            rows=[
                (
                    target.where,
                    f"it returns {_describe(output)}, expected one 2D array per doc with a row per token",
                )
            ],
            hint="Point [pretraining] component/layer at a Model[List[Doc], List[Floats2d]] such as a component's "
            "'tok2vec' layer; a transformer needs the objective spacy-transfer.PretrainMaskedLM.v1.",
        )


def _is_token_vectors(output: Any, docs: List[Any]) -> bool:
    if not isinstance(output, list) or len(output) != len(docs):
        return False
    return all(getattr(a, "ndim", 0) == 2 and a.shape[0] == len(d) for a, d in zip(output, docs))


def _describe(output: Any) -> str:
    if isinstance(output, list):
        inner = type(output[0]).__name__ if output else "nothing"
        return f"a list of {inner}"
    return f"a {type(output).__name__}"
