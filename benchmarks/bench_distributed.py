"""Data-parallel training and pretraining on CPU: words/s with 1 and 2 processes, side by side.

train: same config, seed and data (a 2,000-sentence UD English-EWT slice, CNN
tagger+parser with a shared tok2vec). pretrain: the same pipeline's `init config
--pretraining` block (characters objective) on a WikiText-2 slice, one epoch. Each run in
its own subprocess, one BLAS/OpenMP thread per process. This machine's cores are shared
by the ranks, so the honest expectation on 2 cores is little or no speed-up; the number
shows the cost of the gradient all-reduce and what a machine with more cores or GPUs gains.
`BENCH_DISTRIBUTED_PARTS=pretrain` (or `train`) runs one half.
"""

from __future__ import annotations

import gzip
import json
import os

from ._common import DATA, WORK, python_cmd, ratio, row, run_measured, save_result

STEPS = 60
PRETRAIN_DOCS = int(os.environ.get("BENCH_DISTRIBUTED_PRETRAIN_DOCS", 1200))
PARTS = os.environ.get("BENCH_DISTRIBUTED_PARTS", "train,pretrain").split(",")


def prepare() -> dict:
    from spacy_transfer.core.config import ConfigRequest
    from spacy_transfer.core.config.generate import generate_config
    from spacy_transfer.core.corpora import read_conllu, write_docbin

    root = WORK / "distributed"
    root.mkdir(parents=True, exist_ok=True)
    ud = DATA / "ud_english-ewt"
    if not (root / "train.spacy").exists():
        write_docbin(read_conllu(ud / "en_ewt-ud-train.conllu", n_sents=10, limit=2000), root / "train.spacy")
        write_docbin(read_conllu(ud / "en_ewt-ud-dev.conllu", n_sents=10, limit=300), root / "dev.spacy")
    (root / "config.cfg").write_text(generate_config(ConfigRequest(pipeline=["tagger", "parser"])))
    return {"root": root}


def train(root, nproc: int) -> dict:
    out = root / f"out{nproc}"
    cmd = python_cmd(
        "-m",
        "spacy_transfer",
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
        str(STEPS),
        "--nproc",
        str(nproc),
    )
    measured = run_measured(cmd, env={"OMP_NUM_THREADS": "1"})
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    return {
        "words_per_second": last["words_per_second"],
        "wall_s": measured["wall_s"],
        "score": last["score"],
    }


def prepare_pretrain(root) -> dict:
    from spacy_transfer.core.config import ConfigRequest
    from spacy_transfer.core.config.generate import generate_config

    raw = root / f"wikitext-{PRETRAIN_DOCS}.jsonl"
    if not raw.exists():
        with gzip.open(DATA / "raw_text" / "wikitext-2" / "valid.txt.gz", "rt", encoding="utf8") as f:
            texts = [t for t in (line.strip() for line in f) if len(t) > 40 and not t.startswith("=")]
        raw.write_text(
            "".join(json.dumps({"text": t}) + "\n" for t in texts[:PRETRAIN_DOCS]), encoding="utf8"
        )
    (root / "pretrain.cfg").write_text(
        generate_config(ConfigRequest(pipeline=["tagger", "parser"]), pretraining=True)
    )
    return {"raw": raw}


def pretrain(root, raw, nproc: int) -> dict:
    out = root / f"pretrain{nproc}"
    cmd = python_cmd(
        "-m",
        "spacy_transfer",
        "pretrain",
        str(root / "pretrain.cfg"),
        str(out),
        "--paths.raw_text",
        str(raw),
        "--pretraining.max_epochs",
        "1",
        "--nproc",
        str(nproc),
    )
    measured = run_measured(cmd, env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {
        "words_per_second": log[-1]["words_per_second"],
        "words": log[-1]["nr_word"],
        "wall_s": measured["wall_s"],
        "loss": log[-1]["loss"],
    }


def main() -> dict:
    root = prepare()["root"]
    rows = []
    notes = []
    if "train" in PARTS:
        one = train(root, 1)
        two = train(root, 2)
        rows += [
            row(
                "train words/s (2 procs vs 1)",
                two["words_per_second"],
                one["words_per_second"],
                "report (2 shared cores)",
            ),
            row("train wall s incl. start-up", two["wall_s"], one["wall_s"], "report"),
            {
                "metric": "train dev score after same steps",
                "ours": round(two["score"], 4),
                "baseline": round(one["score"], 4),
                "ratio": ratio(two["score"], one["score"]),
                "target": "≈1",
            },
        ]
        notes.append(f"train: {STEPS} steps, 2,000 UD sentences")
    if "pretrain" in PARTS:
        raw = prepare_pretrain(root)["raw"]
        one = pretrain(root, raw, 1)
        two = pretrain(root, raw, 2)
        assert one["words"] == two["words"], "both runs must see the same words"
        rows += [
            row(
                "pretrain words/s (2 procs vs 1)",
                two["words_per_second"],
                one["words_per_second"],
                "report (2 shared cores)",
            ),
            row("pretrain wall s incl. start-up", two["wall_s"], one["wall_s"], "report"),
            {
                "metric": "pretrain total loss after 1 epoch",
                "ours": round(two["loss"], 1),
                "baseline": round(one["loss"], 1),
                "ratio": ratio(two["loss"], one["loss"]),
                "target": "≈1",
            },
        ]
        notes.append(
            f"pretrain: 1 epoch, {one['words']:,} words ({PRETRAIN_DOCS} WikiText-2 paragraphs), init config tagger+parser "
            "tok2vec (width 96, depth 4), characters objective"
        )
    print(json.dumps(rows, indent=2))
    save_result(
        "distributed",
        {
            "rows": rows,
            "notes": "; ".join(notes) + ". OMP_NUM_THREADS=1 per process; 'ours' = --nproc 2, "
            "'baseline' = --nproc 1; words/s from the run's own log (start-up excluded).",
        },
    )
    return {"rows": rows}


if __name__ == "__main__":
    main()
