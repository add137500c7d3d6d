"""Checks that run before training writes anything, called from the training recipe's
set-up in two places: :func:`check_config` before anything is built (sections, corpora,
vectors), :func:`check_run` once the pipeline and its data are there (frozen components and
their listeners, labels, the dev set). The pipeline's shape is checked between building and
initializing it (:mod:`.pipeline_checks`).

Each turns a problem spaCy would report late (or only warn about) into a
:class:`UserError` that names the setting to fix.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from spacy.language import Language
from spacy.training import Example

from ...errors import UserError
from ..corpora import docbin_problem
from ..state import python_rng_json, set_python_rng_json
from ..validation import check_vectors_path, config_errors


def check_config(config: Any, where: str) -> Dict[str, Any]:
    """Every check of a training config before anything is built; returns it interpolated."""
    check_sections(config, where)
    with config_errors(where):
        interpolated = config.interpolate()
    check_corpus_paths(interpolated)
    check_static_vectors(interpolated)
    check_vectors_path(interpolated)
    return interpolated


def check_run(
    nlp: Language,
    frozen: List[str],
    annotating: List[str],
    examples: Optional[List[Example]],
    dev_corpus: Any,
    sourced: Sequence[str],
) -> None:
    """Every check of the built pipeline against its data, before the first step.
    ``examples`` None: the training data is not checked (streamed, or a distillation's
    silver data, which need not show every one of the teacher's labels)."""
    check_frozen_listeners(nlp, frozen, annotating)
    if examples is not None:
        check_labels(nlp, examples, frozen, labels_given(nlp), sourced)
    # Reading the dev set must not move the random state the training run depends on.
    rng = python_rng_json()
    try:
        check_not_empty(dev_corpus(nlp), "dev", "[training] dev_corpus")
    finally:
        set_python_rng_json(rng)


def fail_if_any(rows: List[Tuple[str, str]], message: str, header: Tuple[str, str], hint: str) -> None:
    """Every problem a check found, in one error: the table names each setting or component."""
    if rows:
        raise UserError(message, rows=rows, header=header, hint=hint)


def _section(config: Dict[str, Any], dot_name: str) -> Optional[Dict[str, Any]]:
    node: Any = config
    for part in dot_name.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, dict) else None


def check_sections(config: Dict[str, Any], where: str) -> None:
    """A training config has [nlp], [training] and [corpora]: the guide's snippets alone
    (components only) are partial configs that ``init fill-config`` completes."""
    missing = [name for name in ("nlp", "training", "corpora") if not isinstance(config.get(name), dict)]
    if missing:
        raise UserError(
            f"The config {where} is partial: it has no {', '.join(f'[{m}]' for m in missing)} section",
            rows=[(f"[{m}]", "missing") for m in missing],
            header=("section", "problem"),
            hint=f"Fill in every default first: spacy-transfer init fill-config {where} config.cfg, "
            "then train with config.cfg.",
        )


def check_corpus_paths(config: Dict[str, Any]) -> None:
    """The train and dev corpora's paths are set, exist, and hold ``.spacy`` files."""
    training = config.get("training", {})
    rows = []
    for role in ("train_corpus", "dev_corpus"):
        dot_name = training.get(role)
        if not isinstance(dot_name, str):
            continue
        section = _section(config, dot_name)
        if section is None:
            rows.append((f"[training] {role}", f"points to [{dot_name}], which is not in the config"))
            continue
        if "path" not in section:
            continue  # a custom reader: it checks its own input
        path = section["path"]
        setting = f"[{dot_name}] path"
        if path in (None, "", "null"):
            rows.append((setting, "is not set (e.g. [paths] train/dev is null)"))
            continue
        if section.get("@readers") == "spacy.Corpus.v1":
            problem = docbin_problem(str(path))
            if problem:
                rows.append((setting, problem))
        elif not Path(str(path)).exists():
            rows.append((setting, f"{path} does not exist"))
    fail_if_any(
        rows,
        "The training or evaluation data cannot be read",
        ("setting", "problem"),
        "Pass the .spacy files as overrides, e.g. --paths.train train.spacy --paths.dev dev.spacy "
        "(make them with 'spacy-transfer convert').",
    )


def _static_vector_users(node: Any, where: str = "components") -> List[str]:
    """Config blocks that read the vectors table: include_static_vectors, StaticVectors."""
    found: List[str] = []
    if isinstance(node, dict):
        arch = str(node.get("@architectures", ""))
        if node.get("include_static_vectors") is True or arch.startswith("spacy.StaticVectors"):
            found.append(where)
        for key, value in node.items():
            found += _static_vector_users(value, f"{where}.{key}")
    return found


def check_static_vectors(config: Dict[str, Any]) -> None:
    """Static-vector features need [initialize] vectors (spaCy fails later with an IndexError)."""
    users = _static_vector_users(config.get("components", {}))
    if users and not (config.get("initialize") or {}).get("vectors"):
        raise UserError(
            "The pipeline uses static vectors as features, but no vectors table is set",
            rows=[(where, "reads the vectors table") for where in users] + [("[initialize] vectors", "null")],
            hint="Make a vectors pipeline with `spacy-transfer init vectors LANG VECTORS DIR` and pass "
            "--paths.vectors DIR (or set [initialize] vectors), or set include_static_vectors = false.",
        )


def check_not_empty(examples: Iterable[Example], what: str, setting: str) -> None:
    if next(iter(examples), None) is None:
        raise UserError(
            f"The {what} corpus has no examples",
            rows=[(setting, "no documents were read")],
            hint="Check that the .spacy file(s) contain documents.",
        )


def check_frozen_listeners(nlp: Any, frozen: Sequence[str], annotating: Sequence[str]) -> None:
    """A frozen tok2vec/transformer feeds its listeners only if it also annotates."""
    rows = []
    for name, proc in nlp.pipeline:
        if name not in frozen or name in annotating:
            continue
        listeners = [
            c for c in getattr(proc, "listening_components", []) if c in nlp.pipe_names and c not in frozen
        ]
        if listeners:
            rows.append((name, f"is frozen, and {', '.join(listeners)} listen to it"))
    fail_if_any(
        rows,
        "A frozen component has listeners but sets no annotations, so they would get no input",
        ("component", "problem"),
        'Add it to [training] annotating_components, e.g. annotating_components = ["'
        + (rows[0][0] if rows else "")
        + '"], or freeze its listeners too, or give them their own tok2vec (replace_listeners).',
    )


def _first_annotated(proc: Any, examples: List[Example]) -> List[Example]:
    """The first example that has this component's annotation (or none)."""
    for eg in examples:
        gold = _gold(proc, [eg])
        if gold is None or gold[1]:
            return [eg]
    return []


def _gold(proc: Any, examples: List[Example]) -> Optional[tuple]:
    """(annotation name, labels present in the data, compare labels?) for known component types."""
    from spacy.pipeline import (
        DependencyParser,
        EntityRecognizer,
        Morphologizer,
        SentenceRecognizer,
        SpanCategorizer,
        Tagger,
        TextCategorizer,
    )

    refs = [eg.reference for eg in examples]
    if isinstance(proc, Morphologizer):
        return "POS/MORPH", {str(t.morph) or t.pos_ for d in refs for t in d if t.pos_ or str(t.morph)}, False
    if isinstance(proc, Tagger):
        return "TAG", {t.tag_ for d in refs for t in d if t.tag_}, True
    if isinstance(proc, SentenceRecognizer):
        return "SENT_START", {"sents"} if any(d.has_annotation("SENT_START") for d in refs) else set(), False
    if isinstance(proc, EntityRecognizer):
        if not any(d.has_annotation("ENT_IOB") for d in refs):
            return "ENT_IOB", set(), True
        return "ENT_IOB", {e.label_ for d in refs for e in d.ents}, True
    if isinstance(proc, DependencyParser):
        return "DEP", {t.dep_ for d in refs for t in d if t.dep_}, False
    if isinstance(proc, TextCategorizer):
        return "cats", {k for d in refs for k, v in d.cats.items() if v >= 0.5}, True
    if isinstance(proc, SpanCategorizer):
        key = getattr(proc, "key", "sc")
        return f"spans[{key!r}]", {s.label_ for d in refs for s in d.spans.get(key, [])}, True
    return None


def check_labels(
    nlp: Any,
    examples: List[Example],
    frozen: Sequence[str],
    given_labels: Sequence[str] = (),
    sourced: Sequence[str] = (),
) -> None:
    """Every trainable component has annotations in the data, and each label occurs there;
    components with fixed labels (``given_labels``: set in [initialize.components], or
    ``sourced`` from a trained pipeline) can learn the data's labels.

    Labels found in the data are there by construction, so the (full) comparisons run only
    for components with fixed labels; the others need one annotated example, found quickly.
    """
    missing, beyond = [], []
    for name, proc in nlp.pipeline:
        if name in frozen or not getattr(proc, "is_trainable", False):
            continue
        fixed = name in given_labels or name in sourced
        gold = _gold(proc, examples if fixed else _first_annotated(proc, examples))
        if gold is None:
            continue
        attr, present, compare = gold
        if not present:
            missing.append((name, f"the training data has no {attr} annotation"))
            continue
        labels: Set[str] = set(getattr(proc, "labels", ()) or ())
        unseen = sorted(labels - present) if compare and name in given_labels else []
        if unseen:
            missing.append((name, f"labels not in the training data: {_shown(unseen)}"))
        if fixed and compare and labels:
            beyond += _labels_beyond_fixed(name, proc, sorted(present - labels))
    fail_if_any(
        missing,
        "The training data does not have the annotations the pipeline needs",
        ("component", "problem"),
        "Train on data annotated for these components, remove them from [nlp] pipeline, "
        "or fix the label list in [initialize.components.NAME.labels].",
    )
    fail_if_any(
        beyond,
        "The training data has labels that a component with fixed labels cannot learn",
        ("component", "problem"),
        "A sourced tagger keeps the labels it was trained with: remove its 'source' to train it "
        "from scratch, add it to [training] frozen_components to keep it as it is, or map the "
        "data's tags onto its labels.",
    )


def _labels_beyond_fixed(name: str, proc: Any, extra: List[str]) -> List[Tuple[str, str]]:
    """A tagger cannot learn labels it lacks (spaCy stops with a KeyError mid-step): a row;
    an entity recognizer or text classifier ignores them: a warning."""
    from spacy.pipeline import Tagger

    if not extra:
        return []
    if isinstance(proc, Tagger):
        return [(name, f"labels it does not have: {_shown(extra)}")]
    warnings.warn(
        f"'{name}' has fixed labels; the training data's {_shown(extra)} are not learned", stacklevel=3
    )
    return []


def _shown(labels: List[str]) -> str:
    return ", ".join(labels[:10]) + (f" (+{len(labels) - 10} more)" if len(labels) > 10 else "")


def sourced_components(config: Dict[str, Any]) -> List[str]:
    """Components the config copies from a trained pipeline (``source = ...``)."""
    return [n for n, c in (config.get("components") or {}).items() if isinstance(c, dict) and c.get("source")]


@contextlib.contextmanager
def missing_labels_as_user_error() -> Iterator[None]:
    """spaCy's E143 (no labels found while initializing) means the data lacks an annotation."""
    try:
        yield
    except ValueError as e:
        found = re.search(r"\[E143\] Labels for component '([^']+)'", str(e))
        if not found:
            raise
        raise UserError(
            "The training data does not have the annotations the pipeline needs",
            rows=[(found.group(1), "no labels were found in the training data")],
            header=("component", "problem"),
            hint="Train on data annotated for this component, remove it from [nlp] pipeline, "
            "or list its labels in [initialize.components.NAME.labels].",
        ) from None


def labels_given(nlp: Language) -> List[str]:
    """Components whose labels [initialize.components] sets."""
    init_components = (nlp.config.get("initialize", {}) or {}).get("components", {}) or {}
    return [
        name
        for name, cfg in init_components.items()
        if isinstance(cfg, dict) and cfg.get("labels") is not None
    ]
