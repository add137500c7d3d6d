"""`spacy-transfer pretrain` against `python -m spacy pretrain`, side by side in one run.

The same config (`init config --pipeline tagger,parser --pretraining`: spaCy's CNN
tok2vec, characters objective), seed and text (a WikiText-2 slice as JSONL), one epoch of
a bounded number of documents per side. Reported: words/s over the whole command
(start-up included; words from each side's log.jsonl) and peak memory. Our loop also
runs once with one BLAS thread, to show how much of the gain is the faster matrix
multiplication rather than a second core (spaCy's blis is single-threaded).
"""

from __future__ import annotations

import gzip
import json
import os
import statistics

from ._common import DATA, WORK, python_cmd, row, run_measured, save_result

DOCS = int(os.environ.get("BENCH_PRETRAIN_DOCS", 1200))
REPEATS = int(os.environ.get("BENCH_PRETRAIN_REPEATS", 1))


def prepare() -> dict:
    from spacy_transfer.core.config import ConfigRequest
    from spacy_transfer.core.config.generate import generate_config

    root = WORK / "pretrain"
    root.mkdir(parents=True, exist_ok=True)
    # The slice is cut here, not with the reader's `limit`: spaCy's JsonlCorpus ignores `limit`.
    raw = root / f"wikitext-{DOCS}.jsonl"
    if not raw.exists():
        texts = []
        for split in ("valid", "test"):
            with gzip.open(DATA / "raw_text" / "wikitext-2" / f"{split}.txt.gz", "rt", encoding="utf8") as f:
                texts += [t for t in (line.strip() for line in f) if len(t) > 40 and not t.startswith("=")]
        raw.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts[:DOCS]), encoding="utf8")
    (root / "config.cfg").write_text(
        generate_config(ConfigRequest(pipeline=["tagger", "parser"]), pretraining=True)
    )
    return {"root": root, "raw": raw}


def run_side(root, raw, side: str, i: int, env=None) -> dict:
    out = root / f"{side}{i}"
    module = "spacy" if side == "spacy" else "spacy_transfer"
    cmd = python_cmd(
        "-m",
        module,
        "pretrain",
        str(root / "config.cfg"),
        str(out),
        "--paths.raw_text",
        str(raw),
        "--pretraining.max_epochs",
        "1",
        "--training.seed",
        "0",
    )
    measured = run_measured(cmd, env=env)
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    words = log[-1]["nr_word"]
    for p in out.iterdir():  # keep the results folder small
        if p.suffix in (".bin", ".safetensors"):
            p.unlink()
    (out / "log.jsonl").unlink()
    return {
        "wall_s": measured["wall_s"],
        "peak_rss_mib": measured["peak_rss_mib"],
        "words": words,
        "words_per_s": round(words / measured["wall_s"], 1),
    }


def main() -> dict:
    prep = prepare()
    root, raw = prep["root"], prep["raw"]
    runs = {"spacy": [], "ours": [], "ours_1thread": []}
    one_thread = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    for i in range(REPEATS):
        for side in ("spacy", "ours", "ours_1thread"):
            runs[side].append(
                run_side(root, raw, side, i, env=one_thread if side == "ours_1thread" else None)
            )
            print(side, i, runs[side][-1], flush=True)
    med = {
        side: {k: statistics.median(r[k] for r in rs) for k in ("words_per_s", "peak_rss_mib", "wall_s")}
        for side, rs in runs.items()
    }
    assert len({r["words"] for rs in runs.values() for r in rs}) == 1, "both sides must see the same words"
    rows = [
        row(
            "pretraining words/s (whole command)",
            med["ours"]["words_per_s"],
            med["spacy"]["words_per_s"],
            ">= 1.0",
        ),
        row(
            "pretraining words/s, ours with 1 BLAS thread",
            med["ours_1thread"]["words_per_s"],
            med["spacy"]["words_per_s"],
            "(info)",
        ),
        row("peak RSS MiB", med["ours"]["peak_rss_mib"], med["spacy"]["peak_rss_mib"], "(info)"),
    ]
    notes = (
        f"{runs['ours'][0]['words']:,} words ({DOCS} WikiText-2 paragraphs), 1 epoch, characters objective, "
        f"tok2vec width 96 depth 4 (init config defaults), seed 0, {REPEATS} run(s) per side alternated, medians. "
        "Ours multiplies through numpy's BLAS instead of blis and writes a resume state beside each weights file."
    )
    result = {"rows": rows, "notes": notes, "runs": runs}
    save_result("pretrain", result)
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2, default=str))
