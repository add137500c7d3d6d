"""`spacy-transfer train` against `python -m spacy train`, side by side in one run.

UD English-EWT (train and dev converted once), a CNN tagger+parser sharing one tok2vec
from `init config`, the same config, seed and max_steps for both. Reported: training
words/s over the whole command (start-up, evaluation and, on our side, a full checkpoint
at every evaluation included) and the dev accuracy of each side's model-best. Our loop
keeps spaCy's semantics step for step, so the accuracies should agree exactly.
"""

from __future__ import annotations

import json
import os
import statistics

from ._common import DATA, WORK, python_cmd, row, run_measured, save_result

STEPS = int(os.environ.get("BENCH_TRAIN_STEPS", 200))
EVAL_EVERY = int(os.environ.get("BENCH_TRAIN_EVAL_EVERY", 100))
# Alternate the two sides REPEATS times; the median evens out a busy machine.
REPEATS = int(os.environ.get("BENCH_TRAIN_REPEATS", 1))


def prepare() -> dict:
    from spacy_transfer.core.config import ConfigRequest
    from spacy_transfer.core.config.generate import generate_config
    from spacy_transfer.core.corpora import read_conllu, write_docbin

    root = WORK / "train"
    root.mkdir(parents=True, exist_ok=True)
    ud = DATA / "ud_english-ewt"
    if not (root / "train.spacy").exists():
        write_docbin(read_conllu(ud / "en_ewt-ud-train.conllu", n_sents=10), root / "train.spacy")
    if not (root / "dev.spacy").exists():
        write_docbin(read_conllu(ud / "en_ewt-ud-dev.conllu", n_sents=10), root / "dev.spacy")
    (root / "config.cfg").write_text(generate_config(ConfigRequest(pipeline=["tagger", "parser"])))
    return {"root": root}


def run_side(root, side: str, i: int) -> dict:
    out = root / f"{side}{i}"
    module = "spacy_transfer" if side == "ours" else "spacy"
    cmd = python_cmd(
        "-m",
        module,
        "train",
        str(root / "config.cfg"),
        "--output",
        str(out),
        "--paths.train",
        str(root / "train.spacy"),
        "--paths.dev",
        str(root / "dev.spacy"),
        "--training.max_steps",
        str(STEPS),
        "--training.eval_frequency",
        str(EVAL_EVERY),
    )
    measured = run_measured(cmd)
    perf = json.loads((out / "model-best" / "meta.json").read_text())["performance"]
    return {
        "wall_s": measured["wall_s"],
        "cpu_s": measured["cpu_s"],
        "peak_rss_mib": measured["peak_rss_mib"],
        "tag_acc": perf["tag_acc"],
        "dep_las": perf["dep_las"],
        "out": out,
    }


def main() -> dict:
    root = prepare()["root"]
    runs = {"ours": [], "spacy": []}
    for i in range(REPEATS):
        for side in ("spacy", "ours"):
            runs[side].append(run_side(root, side, i))
            print(side, i, {k: v for k, v in runs[side][-1].items() if k != "out"}, flush=True)
    # Both sides train on the same batches (the loop reproduces spaCy's), so the words are ours.
    words = json.loads((runs["ours"][0]["out"] / "checkpoint" / "state.json").read_text())["state"]["words"]
    wall = {side: statistics.median(r["wall_s"] for r in rs) for side, rs in runs.items()}
    cpu = {side: statistics.median(r["cpu_s"] for r in rs) for side, rs in runs.items()}
    wps = {side: round(words / wall[side], 1) for side in wall}
    wpc = {side: round(words / cpu[side], 1) for side in cpu}
    rows = [
        row(
            "train words/s (wall clock, whole command, checkpoints included)",
            wps["ours"],
            wps["spacy"],
            ">= 0.97",
        ),
        row(
            "train words per CPU-second (same, steadier on a shared machine)",
            wpc["ours"],
            wpc["spacy"],
            ">= 0.97",
        ),
        row("peak RSS MiB", runs["ours"][0]["peak_rss_mib"], runs["spacy"][0]["peak_rss_mib"], ""),
    ]
    for metric in ("tag_acc", "dep_las"):
        ours, theirs = runs["ours"][0][metric] * 100, runs["spacy"][0][metric] * 100
        rows.append(
            {
                "metric": f"dev {metric} (points)",
                "ours": round(ours, 2),
                "baseline": round(theirs, 2),
                "ratio": round(ours - theirs, 2),
                "target": "difference within ±0.3",
            }
        )
    notes = (
        f"UD English-EWT train ({words} words seen in {STEPS + 1} steps) / full dev; `init config --pipeline tagger,parser` "
        f"(CNN, shared tok2vec); eval every {EVAL_EVERY} steps; median wall and CPU time of {REPEATS} alternating runs per side; "
        f"ours writes model-best, model-last, a full checkpoint, metrics.jsonl and training.png at every evaluation."
    )
    result = {"rows": rows, "notes": notes}
    save_result("train", result)
    for line in rows:
        print(line)
    return result


if __name__ == "__main__":
    main()
