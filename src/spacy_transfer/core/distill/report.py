"""After training: the student against the dev data, its agreement with the teacher, and
both pipelines' speed and size, in one table (and ``OUTPUT/distill.json``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import srsly
from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from thinc.api import Config

from ..io import atomic_write_text
from ..recipe import Reporter

# The headline scores of each component, as spaCy's scorers name them.
HEADLINES = (
    "tag_acc",
    "pos_acc",
    "morph_acc",
    "sents_f",
    "dep_uas",
    "dep_las",
    "ents_f",
    "cats_score",
    "spans_sc_f",
    "lemma_acc",
)


def dir_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def predict_timed(nlp: Language, texts: List[str], batch_size: int = 256) -> Tuple[List[Doc], float]:
    """The pipeline's predictions on ``texts`` and its words/s over them (a warm-up batch
    first, not counted): one pass serves both the scores and the speed."""
    list(nlp.pipe(texts[:16]))
    start = time.perf_counter()
    docs = list(nlp.pipe(texts, batch_size=batch_size))
    return docs, sum(len(d) for d in docs) / max(time.perf_counter() - start, 1e-9)


def dev_docs(config: Config, nlp: Language) -> List[Doc]:
    return list(DocBin().from_disk(config["paths"]["dev"]).get_docs(nlp.vocab))


def score(nlp: Language, predicted: List[Doc], reference: List[Doc]) -> Dict[str, float]:
    """What ``nlp.evaluate`` reports, for predictions already made."""
    return headline(Scorer(nlp).score([Example(p, r) for p, r in zip(predicted, reference)]))


def headline(scores: Dict[str, Any]) -> Dict[str, float]:
    return {k: round(100 * float(scores[k]), 2) for k in HEADLINES if isinstance(scores.get(k), (int, float))}


def compare(
    teacher: Language,
    teacher_path: Path,
    output: Path,
    config: Config,
    raw_text: Dict[str, int],
    settings: Dict[str, Any],
    printer: Reporter,
) -> Dict[str, Any]:
    import spacy

    student = spacy.load(output / "model-best")
    gold = dev_docs(config, student)
    texts = [doc.text for doc in gold]
    taught, teacher_wps = predict_timed(teacher, texts)
    learned, student_wps = predict_timed(student, texts)
    speed = {"teacher": teacher_wps, "student": student_wps}
    on_dev = score(student, learned, gold)
    teacher_on_dev = score(teacher, taught, dev_docs(config, teacher))
    # Agreement: the teacher's predictions (copied into the student's vocab) are the reference.
    as_reference = list(DocBin(docs=taught).get_docs(student.vocab))
    agreement = score(student, learned, as_reference)
    result = {
        "teacher": {
            "path": str(teacher_path),
            "dev": teacher_on_dev,
            "words_per_s": round(speed["teacher"]),
            "size_mb": dir_mb(teacher_path),
        },
        "student": {
            "path": str(output / "model-best"),
            "dev": on_dev,
            "words_per_s": round(speed["student"]),
            "size_mb": dir_mb(output / "model-best"),
        },
        "agreement_with_teacher": agreement,
        "speed_ratio": round(speed["student"] / max(speed["teacher"], 1e-9), 2),
        "raw_text": raw_text,
        "settings": settings,
    }
    atomic_write_text(output / "distill.json", srsly.json_dumps(result, indent=2))
    _print(printer, result)
    return result


def _print(printer: Reporter, result: Dict[str, Any]) -> None:
    keys = sorted(set(result["student"]["dev"]) | set(result["teacher"]["dev"]))
    rows = [
        (
            k,
            result["teacher"]["dev"].get(k, "-"),
            result["student"]["dev"].get(k, "-"),
            result["agreement_with_teacher"].get(k, "-"),
        )
        for k in keys
    ]
    rows += [
        (
            "words/s",
            result["teacher"]["words_per_s"],
            result["student"]["words_per_s"],
            f"{result['speed_ratio']}x",
        ),
        ("size MB", result["teacher"]["size_mb"], result["student"]["size_mb"], ""),
    ]
    # scores: the student graded against the teacher's own predictions
    printer.table(
        rows, header=("", "teacher", "student", "agreement with teacher; speed ratio"), divider=True
    )
