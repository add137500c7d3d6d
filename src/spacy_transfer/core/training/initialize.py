"""Build and initialize the pipeline for training: spaCy's ``init_nlp`` sequence, with
checks between building and initializing, and frozen transformers that can be used.

The steps and their order are spaCy 3.8's (seed, GPU allocator, build from the config,
resume sourced components, link listeners, initialize what is neither frozen nor
sourced), so the same config gives the same weights as ``spacy train``. Two additions:

* after building (:mod:`.pipeline_checks`), every listener must have an upstream component in the pipeline and the
  width its upstream produces (spaCy reports these as E203 and a blis shape error, at the
  first batch);
* a frozen ``transformer`` that was not sourced from a trained pipeline is initialized
  anyway: initializing it only loads its pretrained weights (no training data is read),
  and ``frozen_components`` still keeps the optimizer away from them. spaCy would leave
  it without weights, and its listeners without a width.
"""

from __future__ import annotations

import logging
from itertools import islice
from typing import Any, List

from spacy.language import Language
from spacy.schemas import ConfigSchemaTraining
from spacy.training.initialize import get_sourced_components
from spacy.util import fix_random_seed, load_model_from_config, registry, resolve_dot_names
from thinc.api import Config, Model, set_gpu_allocator

from ...errors import UserError
from ..upstream import link_components
from ..validation import config_errors
from .pipeline_checks import check_built

logger = logging.getLogger("spacy")
STREAMED_SAMPLE = 100  # examples read to initialize from a streamed corpus (max_epochs = -1), as spaCy


def init_pipeline(config: Config, *, use_gpu: int = -1, where: str = "config") -> Language:
    """The pipeline of a (not yet interpolated) training config, initialized on its corpus."""
    resolved = config.interpolate()
    training = resolved["training"]
    for key in ("seed", "gpu_allocator"):
        if key not in training:
            raise UserError(
                f"[training] {key} is missing",
                hint=f"Add it to [training] (e.g. {key} = null), or fill the config with 'init fill-config'.",
            )
    if training["seed"] is not None:
        fix_random_seed(training["seed"])
    if use_gpu >= 0 and training["gpu_allocator"]:
        set_gpu_allocator(training["gpu_allocator"])
    sourced = get_sourced_components(resolved)
    nlp = load_model_from_config(config, auto_fill=True)
    filled = nlp.config.interpolate()
    with config_errors(where, section="training"):
        T = registry.resolve(filled["training"], schema=ConfigSchemaTraining)
    for role in ("train_corpus", "dev_corpus"):
        if not isinstance(T[role], str):
            raise UserError(
                f'[training] {role} must be the dotted name of a corpus section, e.g. "corpora.train"',
                rows=[(f"[training] {role}", type(T[role]).__name__)],
            )
    train_corpus, _ = resolve_dot_names(filled, [T["train_corpus"], T["dev_corpus"]])
    frozen: List[str] = list(T["frozen_components"])
    resumed = [name for name in sourced if name not in frozen]
    if resumed:
        with nlp.select_pipes(enable=resumed):
            nlp.resume_training(sgd=T["optimizer"])
    link_components(nlp)  # listeners find their upstream components
    check_built(nlp, frozen, list(T["annotating_components"]))
    ready = [name for name in frozen if name not in sourced and is_transformer(nlp.get_pipe(name))]
    if ready:
        logger.info("Frozen and not sourced, so initialized from their pretrained weights: %s", ready)
    skip = [name for name in frozen if name not in ready] + resumed
    with nlp.select_pipes(disable=skip):
        if T["max_epochs"] == -1:
            nlp.initialize(lambda: islice(train_corpus(nlp), STREAMED_SAMPLE), sgd=T["optimizer"])
        else:
            nlp.initialize(lambda: train_corpus(nlp), sgd=T["optimizer"])
    logger.info("Initialized pipeline components: %s", nlp.pipe_names)
    return nlp


def init_nlp_with_init_tok2vec(
    config: Config, *, use_gpu: int = -1, load: bool = True, where: str = "config"
) -> Language:
    """:func:`init_pipeline`, with ``[initialize] init_tok2vec`` loaded by
    :func:`load_init_tok2vec` (checked, with or without a [pretraining] block) instead of
    by spaCy (unchecked, and only with one). ``load=False`` skips it (a resumed run
    restores its own weights)."""
    from ..pretraining.weights import load_init_tok2vec

    deferred = Config(config).copy()
    original = (deferred.get("initialize") or {}).get("init_tok2vec")
    if "initialize" in deferred:
        deferred["initialize"]["init_tok2vec"] = None
    nlp = init_pipeline(deferred, use_gpu=use_gpu, where=where)
    if "initialize" in nlp.config:
        nlp.config["initialize"]["init_tok2vec"] = original  # the config keeps what the user wrote
    if load:
        load_init_tok2vec(nlp, config)
    return nlp


def is_transformer(proc: Any) -> bool:
    """A component whose weights come from a pretrained model, not from training data."""
    from ..transformer.component import Transformer

    return isinstance(proc, Transformer)


def annotating_sentence_setters(nlp: Language, frozen: List[str], annotating: List[str]) -> List[str]:
    """Components that set sentence boundaries before a transformer and are not trained
    (a sentencizer; a frozen senter or parser): they must run on each training batch, or
    the transformer sees Docs without sentences (spaCy: E030) while at prediction time it
    sees them. spaCy runs such a component during training only when it is listed in
    [training] annotating_components; these are the ones to add to that list."""
    first = next((i for i, (_, proc) in enumerate(nlp.pipeline) if _uses_transformer(proc)), None)
    if first is None:
        return []
    found = []
    for name, proc in nlp.pipeline[:first]:
        assigns = nlp.get_pipe_meta(name).assigns
        sets_sentences = "token.is_sent_start" in assigns or "doc.sents" in assigns
        trained = getattr(proc, "is_trainable", False) and name not in frozen
        if sets_sentences and not trained and name not in annotating:
            found.append(name)
    return found


def _uses_transformer(proc: Any) -> bool:
    model = getattr(proc, "model", None)
    return isinstance(model, Model) and any(node.name == "hf-pytorch" for node in model.walk())
