"""The teacher pipeline and what a student config must share with it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Dict, List, Optional

import srsly
from spacy.language import Language

from ...errors import UserError

# Components that compute the embedding the others use: the student brings its own.
EMBEDDING_FACTORIES = ("tok2vec", "transformer")


def load_teacher(path: Path, use_gpu: int = -1) -> Language:
    """The trained teacher pipeline (any pipeline folder ``spacy.load`` reads)."""
    import spacy

    if not path.exists():
        raise UserError(
            f"Teacher pipeline not found: {path}",
            hint="Give the folder of a trained pipeline, e.g. training/model-best.",
        )
    if not (path / "config.cfg").exists() or not (path / "meta.json").exists():
        raise UserError(
            f"{path} is not a saved pipeline (no config.cfg / meta.json)",
            hint="Give the folder of a trained pipeline, e.g. training/model-best.",
        )
    return spacy.load(path)


def student_components(config: Dict[str, Any]) -> Dict[str, str]:
    """The student's components that learn from the teacher: name -> factory."""
    names = list((config.get("nlp") or {}).get("pipeline") or [])
    components = config.get("components") or {}
    out = {}
    for name in names:
        factory = str((components.get(name) or {}).get("factory", ""))
        if factory not in EMBEDDING_FACTORIES:
            out[name] = factory
    return out


def check_student(teacher: Language, config: Dict[str, Any], where: str) -> Dict[str, str]:
    """The student's components must be the teacher's (same names, same factories), in the
    same language, with the same tokenizer; returns the student's learning components."""
    lang = (config.get("nlp") or {}).get("lang")
    if lang != teacher.lang:
        raise UserError(
            f"The student is a '{lang}' pipeline and the teacher a '{teacher.lang}' one ({where})",
            hint="Distill into a student config of the teacher's language ([nlp] lang).",
        )
    wanted = student_components(config)
    if not wanted:
        raise UserError(
            f"The student config has no component to train ({where})",
            hint="List components in [nlp] pipeline.",
        )
    rows = []
    for name, factory in wanted.items():
        if name not in teacher.pipe_names:
            rows.append((name, f"not in the teacher's pipeline ({', '.join(teacher.pipe_names)})"))
        elif teacher.get_pipe_meta(name).factory != factory:
            rows.append(
                (name, f"factory '{factory}' here, '{teacher.get_pipe_meta(name).factory}' in the teacher")
            )
    if rows:
        raise UserError(
            "The student has components the teacher cannot teach",
            rows=rows,
            header=("student component", "problem"),
            hint="The student's components must be a subset of the teacher's: remove them from the student's "
            "[nlp] pipeline, or distill from a teacher that has them.",
        )
    _check_tokenizer(teacher, config, where)
    return wanted


def _check_tokenizer(teacher: Language, config: Dict[str, Any], where: str) -> None:
    ours = (config.get("nlp") or {}).get("tokenizer") or {"@tokenizers": "spacy.Tokenizer.v1"}
    theirs = teacher.config["nlp"].get("tokenizer") or {"@tokenizers": "spacy.Tokenizer.v1"}
    if dict(ours) != dict(theirs):
        raise UserError(
            f"The student's tokenizer differs from the teacher's ({where})",
            rows=[
                ("student [nlp.tokenizer]", str(dict(ours))),
                ("teacher [nlp.tokenizer]", str(dict(theirs))),
            ],
            hint="Soft targets are per token: give the student the teacher's [nlp.tokenizer] block.",
        )


def fingerprint(path: Path) -> str:
    """A hash of every file of the teacher's folder: a cache made by another teacher is refused."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode("utf8"))
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def write_label_files(
    teacher: Language, names: List[str], folder: Path, gold: Optional[str] = None
) -> Dict[str, Path]:
    """The teacher's labels for each component that takes labels in ``initialize``, for
    ``spacy.read_labels.v1``: the student knows every label the teacher can predict (its
    distribution covers them all, even those it never picks). The tagger's and the text
    classifiers' also get the gold data's labels; the parser's and ner's moves are the
    teacher's (a gold label the teacher never learned is not supported)."""
    import inspect

    from ..io import atomic_write_text

    folder.mkdir(parents=True, exist_ok=True)
    gold_docs = _gold_docs(teacher, gold)
    out = {}
    for name in names:
        proc, factory = teacher.get_pipe(name), teacher.get_pipe_meta(name).factory
        if "labels" not in inspect.signature(proc.initialize).parameters or not hasattr(proc, "label_data"):
            continue
        data = proc.label_data
        if factory in FLAT_LABELS:
            seen = (
                {t.tag_ for d in gold_docs for t in d}
                if factory == "tagger"
                else {c for d in gold_docs for c in d.cats}
            )
            data = list(data) + sorted(label for label in seen - set(data) if label)
        path = folder / f"{name}.json"
        atomic_write_text(path, srsly.json_dumps(data))
        out[name] = path
    return out


FLAT_LABELS = ("tagger", "textcat", "textcat_multilabel")


def _gold_docs(teacher: Language, gold: Optional[str]) -> List[Any]:
    if not gold:
        return []
    from spacy.training import Corpus

    return [eg.reference for eg in Corpus(gold)(teacher)]
