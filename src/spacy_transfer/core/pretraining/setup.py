"""Everything the pretraining loop needs, resolved from a config's [pretraining] block."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

from spacy.language import Language
from spacy.schemas import ConfigSchemaPretrain
from spacy.util import dot_to_object, load_model_from_config, registry
from thinc.api import Config, Optimizer, fix_random_seed

from ...errors import UserError
from ..devices import setup_device
from ..upstream import link_components
from ..validation import check_vectors_path, config_errors
from .objectives import build_tok2vec_objective
from .raw_text import iter_docs, resolve_pretraining_corpus
from .target import check_tok2vec_layer, find_target


@dataclass
class PretrainSetup:
    """A loaded pipeline and everything resolved from its [pretraining] block."""

    nlp: Language
    settings: Dict[str, Any]
    corpus: Callable[[Language], Any]
    objective: Any  # Tok2VecObjective or MaskedLMObjective
    optimizer: Optimizer
    seed: Optional[int]


def setup_pretraining(config: Config, *, use_gpu: int = -1, where: str = "config") -> PretrainSetup:
    """Load the pipeline from ``config`` (not interpolated) and build the objective."""
    if not config.get("pretraining"):
        raise UserError(
            f"The config has no [pretraining] block ({where})",
            hint="Add it with 'spacy-transfer init fill-config CONFIG CONFIG_PRETRAIN --pretraining'.",
        )
    config = Config(config).copy()
    with config_errors(where):
        interpolated = config.interpolate()
    check_vectors_path(interpolated)
    training = interpolated.get("training", {})
    seed = training.get("seed", interpolated.get("system", {}).get("seed"))
    setup_device(use_gpu, training.get("gpu_allocator"), numpy_blas=True)
    if seed is not None:
        fix_random_seed(seed)
    # The weights are what we are about to create: never load old ones into the layer.
    config.setdefault("initialize", {})["init_tok2vec"] = None
    with config_errors(where):
        nlp = load_model_from_config(config, auto_fill=True, validate=True)
        filled = nlp.config.interpolate()
        P = registry.resolve(filled["pretraining"], schema=ConfigSchemaPretrain)
    try:
        corpus_section = dot_to_object(filled, P["corpus"])
    except KeyError:
        raise UserError(
            f"[pretraining] corpus = '{P['corpus']}' names no section of the config ({where})",
            hint="Point it at the raw-text reader, usually corpora.pretrain.",
        ) from None
    with config_errors(where):
        corpus = resolve_pretraining_corpus(corpus_section)
        with nlp.select_pipes(enable=[]):
            nlp.initialize()  # loads [initialize] vectors, which the vectors objective needs
    link_components(nlp)  # listeners know their upstream from here on
    objective_name = str(filled["pretraining"]["objective"].get("@architectures", "objective"))
    objective = build_objective(nlp, P, objective_name, seed)
    return PretrainSetup(
        nlp=nlp, settings=P, corpus=corpus, objective=objective, optimizer=P["optimizer"], seed=seed
    )


def build_objective(nlp: Language, P: Dict[str, Any], objective_name: str, seed: Optional[int]) -> Any:
    """The masked LM for a transformer, a tok2vec objective (characters, vectors) otherwise."""
    from .masked_lm import MaskedLMObjectiveFactory  # the transformer path

    target = find_target(nlp, P["component"], P["layer"])
    create = P["objective"]
    if isinstance(create, MaskedLMObjectiveFactory):
        return create.build(nlp, target, dropout=P["dropout"], seed=seed)
    if target.is_transformer:
        raise UserError(
            f"The pretraining target ({target.where}) is a transformer; {objective_name} only trains tok2vec layers",
            rows=[("[pretraining.objective]", objective_name)],
            hint='Use @architectures = "spacy-transfer.PretrainMaskedLM.v1" for transformers '
            "('spacy-transfer init fill-config --pretraining' writes it).",
        )
    check_tok2vec_layer(nlp, target)
    return build_tok2vec_objective(
        nlp, target, create, dropout=P["dropout"], seed=seed, objective_name=objective_name
    )


def check_corpus_not_empty(setup: PretrainSetup) -> None:
    if next(iter_docs(setup.corpus, setup.nlp), None) is None:
        corpus = str(setup.settings["corpus"])
        try:
            path = dot_to_object(setup.nlp.config.interpolate(), corpus).get("path")
        except (KeyError, AttributeError):
            path = None
        raise UserError(
            "The pretraining corpus has no documents" + (f": {path}" if path else ""),
            rows=[("[pretraining] corpus", corpus)] + ([(f"[{corpus}] path", str(path))] if path else []),
            hint='Check the raw text file (one JSON object with a "text" key per line, or one text per line) '
            "and the reader's min_length/max_length/limit settings.",
        )
