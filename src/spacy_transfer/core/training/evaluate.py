"""Scoring: the weighted score training selects on, and the ``evaluate`` command's work."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from ...errors import UserError
from ..corpora import docbin_problem

# The headline metrics, in the order and with the names spaCy's evaluate table uses.
HEADLINE = {
    "TOK": "token_acc",
    "TAG": "tag_acc",
    "POS": "pos_acc",
    "MORPH": "morph_acc",
    "LEMMA": "lemma_acc",
    "UAS": "dep_uas",
    "LAS": "dep_las",
    "NER P": "ents_p",
    "NER R": "ents_r",
    "NER F": "ents_f",
    "TEXTCAT": "cats_score",
    "SENT P": "sents_p",
    "SENT R": "sents_r",
    "SENT F": "sents_f",
    "SPEED": "speed",
}
PER_TYPE = {
    "ents_per_type": ("NER", "type"),
    "dep_las_per_type": ("LAS", "type"),
    "morph_per_feat": ("MORPH", "feat"),
    "cats_f_per_type": ("TEXTCAT F", "label"),
}


def weighted_score(scores: Dict[str, Any], weights: Dict[str, Optional[float]]) -> float:
    """spaCy's main score: the weighted sum of the numeric scores named in score_weights."""
    total = 0.0
    for key, weight in weights.items():
        if weight is None or key not in scores or scores[key] is None:
            continue
        value = scores[key]
        if not isinstance(value, (int, float)):
            raise UserError(
                f"score_weights names '{key}', which is not a number but a {type(value).__name__}",
                hint="Weight only numeric scores such as ents_f or tag_acc in [training.score_weights].",
            )
        total += float(value) * weight
    return total


def make_evaluator(
    nlp: Any, dev_corpus: Callable, weights: Dict[str, Optional[float]]
) -> Callable[[], Tuple[float, Dict[str, Any]]]:
    """A callback returning ``(weighted score, all scores)`` on the dev corpus."""

    def evaluate() -> Tuple[float, Dict[str, Any]]:
        scores = nlp.evaluate(dev_corpus(nlp))
        scores = {k: v for k, v in scores.items() if v is not None}
        return weighted_score(scores, weights), scores

    return evaluate


def numeric_scores(scores: Dict[str, Any]) -> Dict[str, float]:
    return {k: float(v) for k, v in scores.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


# --- the evaluate command ----------------------------------------------------------


def evaluate_pipeline(
    model: str, data_path: Path, *, gold_preproc: bool = False, per_component: bool = False
) -> Dict[str, Any]:
    """Load a pipeline, score it on a ``.spacy`` corpus, return spaCy's score dict."""
    import spacy
    from spacy.training import Corpus

    data_path = Path(data_path)
    if not data_path.exists():
        raise UserError(
            f"Evaluation data not found: {data_path}", hint="Pass a .spacy file or a folder of them."
        )
    problem = docbin_problem(data_path)
    if problem:
        raise UserError(
            f"The evaluation data cannot be read: {data_path}",
            rows=[("data_path", problem)],
            hint="Pass a .spacy file or a folder of them ('spacy-transfer convert' makes them).",
        )
    model_path = Path(model)
    if not model_path.exists() and not spacy.util.is_package(model):
        raise UserError(
            f"Pipeline not found: {model}",
            hint="Pass the folder of a trained pipeline, e.g. training/model-best.",
        )
    try:
        nlp = spacy.load(model)
    except (OSError, ValueError, KeyError) as e:
        raise UserError(
            f"Could not load the pipeline {model}",
            rows=[(model, " ".join(str(e).split())[:300])],
            hint="Pass the folder of a pipeline written by 'spacy-transfer train' (model-best or model-last).",
        ) from e
    examples = list(Corpus(data_path, gold_preproc=gold_preproc)(nlp))
    if not examples:
        raise UserError(
            f"The evaluation data has no documents: {data_path}",
            hint="Check that the .spacy file(s) contain documents.",
        )
    return nlp.evaluate(examples, per_component=per_component)


def headline_rows(scores: Dict[str, Any]) -> List[Tuple[str, str]]:
    rows = []
    for label, key in HEADLINE.items():
        if key not in scores:
            continue
        value = scores[key]
        if key == "cats_score":
            label = f"{label} ({scores.get('cats_score_desc', 'unk')})"
        if isinstance(value, (int, float)):
            rows.append((label, f"{value:.0f}" if key == "speed" else f"{value * 100:.2f}"))
        else:
            rows.append((label, "-"))
    return rows


def per_type_tables(scores: Dict[str, Any]) -> List[Tuple[str, List[Tuple[str, str, str, str]]]]:
    """(title, rows of label/P/R/F) for each per-type breakdown present."""
    tables = []
    for key, (name, kind) in PER_TYPE.items():
        table = scores.get(key)
        if not table:
            continue
        rows = []
        for label, prf in table.items():
            rows.append(
                (
                    label,
                    *(
                        f"{prf[k] * 100:.2f}" if isinstance(prf.get(k), (int, float)) else "-"
                        for k in ("p", "r", "f")
                    ),
                )
            )
        tables.append((f"{name} (per {kind})", rows))
    return tables


def json_scores(scores: Dict[str, Any]) -> Dict[str, Any]:
    """Scores with spaCy's JSON key style (lower case, no spaces)."""
    return {re.sub(r"[\s/]", "_", k.lower()): v for k, v in scores.items()}
