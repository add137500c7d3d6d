"""Data-parallel training on CPU: words/s with 1 and 2 processes, side by side.

Same config, seed and data (a 2,000-sentence UD English-EWT slice, CNN tagger+parser with
a shared tok2vec); each run in its own subprocess. This machine's cores are shared by the
ranks, so the honest expectation on 2 cores is little or no speed-up; the number shows
the cost of the gradient all-reduce and what a machine with more cores or GPUs gains.
"""

from __future__ import annotations

import json

from ._common import DATA, WORK, python_cmd, ratio, run_measured, save_result

STEPS = 60


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
    cmd = python_cmd("-m", "spacy_transfer", "train", str(root / "config.cfg"), "--output", str(out),
                     "--paths.train", str(root / "train.spacy"), "--paths.dev", str(root / "dev.spacy"),
                     "--training.max_steps", str(STEPS), "--training.eval_frequency", str(STEPS), "--nproc", str(nproc))
    measured = run_measured(cmd, env={"OMP_NUM_THREADS": "1"})
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    return {"words_per_second": last["words_per_second"], "wall_s": measured["wall_s"], "score": last["score"]}


def main() -> dict:
    root = prepare()["root"]
    one = train(root, 1)
    two = train(root, 2)
    rows = [
        {"metric": "train words/s (2 procs vs 1)", "ours": two["words_per_second"], "baseline": one["words_per_second"],
         "ratio": ratio(two["words_per_second"], one["words_per_second"]), "target": "report (2 shared cores)"},
        {"metric": "wall s incl. start-up", "ours": two["wall_s"], "baseline": one["wall_s"], "ratio": ratio(two["wall_s"], one["wall_s"]), "target": "report"},
        {"metric": "dev score after same steps", "ours": round(two["score"], 4), "baseline": round(one["score"], 4), "ratio": ratio(two["score"], one["score"]), "target": "≈1"},
    ]
    print(json.dumps(rows, indent=2))
    save_result("distributed", {"rows": rows, "notes": f"{STEPS} steps, OMP_NUM_THREADS=1 per process, 2,000 UD sentences; 'ours' = --nproc 2, 'baseline' = --nproc 1."})
    return {"rows": rows}


if __name__ == "__main__":
    main()
