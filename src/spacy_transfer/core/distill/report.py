"""After training: the student against the dev data, its agreement with the teacher, and
both pipelines' speed and size, in one table (and ``OUTPUT/distill.json``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List

import srsly
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from thinc.api import Config
from wasabi import Printer

from ..io import atomic_write_text
from .annotate import Manifest

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


def words_per_second(nlp: Language, texts: List[str], batch_size: int = 256) -> float:
    """Prediction speed over ``texts`` (a warm-up batch first, not counted)."""
    list(nlp.pipe(texts[:16]))
    start = time.perf_counter()
    n = sum(len(doc) for doc in nlp.pipe(texts, batch_size=batch_size))
    return n / max(time.perf_counter() - start, 1e-9)


def dev_docs(config: Config, nlp: Language) -> List[Doc]:
    return list(DocBin().from_disk(config["paths"]["dev"]).get_docs(nlp.vocab))


def headline(scores: Dict[str, Any]) -> Dict[str, float]:
    return {k: round(100 * float(scores[k]), 2) for k in HEADLINES if isinstance(scores.get(k), (int, float))}


def compare(
    teacher: Language,
    teacher_path: Path,
    output: Path,
    config: Config,
    manifest: Manifest,
    settings: Dict[str, Any],
    printer: Printer,
) -> Dict[str, Any]:
    import spacy

    student = spacy.load(output / "model-best")
    gold = dev_docs(config, student)
    texts = [doc.text for doc in gold]
    on_dev = headline(student.evaluate([Example(student.make_doc(d.text), d) for d in gold]))
    teacher_on_dev = headline(
        teacher.evaluate([Example(teacher.make_doc(d.text), d) for d in dev_docs(config, teacher)])
    )
    # Agreement: the teacher's predictions are the reference.
    taught = list(teacher.pipe(texts))
    agreement = headline(student.evaluate([Example(student.make_doc(d.text), d) for d in taught]))
    speed = {"teacher": words_per_second(teacher, texts), "student": words_per_second(student, texts)}
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
        "raw_text": {"docs": manifest.docs_done, "words": manifest.words},
        "settings": settings,
    }
    atomic_write_text(output / "distill.json", srsly.json_dumps(result, indent=2))
    _print(printer, result)
    return result


def _print(printer: Printer, result: Dict[str, Any]) -> None:
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
    printer.table(rows, header=("", "teacher", "student", "student vs teacher"), divider=True)
