"""What pretraining buys: tagger accuracy and LAS on UD English-EWT after training on a
2,000-sentence slice, with no pretraining vs the characters objective vs the vectors objective.

All three arms use the same config (`init config --pipeline tagger,parser --pretraining`:
spaCy's CNN tok2vec shared by tagger and parser), seed and training steps; the two
pretrained arms first run `spacy-transfer pretrain` on WikiText-2 paragraphs (1,000 by
default, ~0.33M words) and start `spacy-transfer train` from its `model-last.bin` via `paths.init_tok2vec`.
The vectors objective predicts word2vec vectors trained (gensim) on the same raw text;
static vectors are not used as input features in any arm, so the only difference is the
tok2vec initialization. Scores are model-best on the full UD dev set; one seed per arm.
"""

from __future__ import annotations

import gzip
import json
import os

from ._common import DATA, WORK, python_cmd, run_measured, save_result

TRAIN_SENTS = int(os.environ.get("BENCH_PT_ACC_SENTS", 2000))
PRETRAIN_EPOCHS = int(os.environ.get("BENCH_PT_ACC_EPOCHS", 2))
PRETRAIN_DOCS = int(os.environ.get("BENCH_PT_ACC_DOCS", 1000))
STEPS = int(os.environ.get("BENCH_PT_ACC_STEPS", 600))


def prepare() -> dict:
    from spacy_transfer.core.corpora import read_conllu, write_docbin

    root = WORK / "pretrain_accuracy"
    root.mkdir(parents=True, exist_ok=True)
    raw = root / "wikitext.jsonl"  # all of WikiText-2 valid+test; runs read the first PRETRAIN_DOCS
    if not raw.exists():
        texts = []
        for split in ("valid", "test"):
            with gzip.open(DATA / "raw_text" / "wikitext-2" / f"{split}.txt.gz", "rt", encoding="utf8") as f:
                texts += [t for t in (line.strip() for line in f) if len(t) > 40 and not t.startswith("=")]
        raw.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf8")
    ud = DATA / "ud_english-ewt"
    if not (root / "train.spacy").exists():
        write_docbin(
            read_conllu(ud / "en_ewt-ud-train.conllu", n_sents=10, limit=TRAIN_SENTS), root / "train.spacy"
        )
    if not (root / "dev.spacy").exists():
        write_docbin(read_conllu(ud / "en_ewt-ud-dev.conllu", n_sents=10), root / "dev.spacy")
    from spacy_transfer.core.config import ConfigRequest
    from spacy_transfer.core.config.generate import generate_config

    text = generate_config(ConfigRequest(pipeline=["tagger", "parser"]), pretraining=True)
    (root / "config.cfg").write_text(text)
    # The vectors arm: the same config with spaCy's vectors objective (cosine loss).
    from thinc.api import Config

    config = Config().from_str(text, interpolate=False)
    config["pretraining"]["objective"] = {
        "@architectures": "spacy.PretrainVectors.v1",
        "maxout_pieces": 3,
        "hidden_size": 300,
        "loss": "cosine",
    }
    (root / "config_vectors.cfg").write_text(config.to_str())
    vectors = root / "vectors"
    if not vectors.exists():
        train_vectors(raw, vectors)
    return {"root": root, "raw": raw, "vectors": vectors}


def train_vectors(raw, path) -> None:
    """word2vec (gensim) on the raw text, as a spaCy vectors pipeline."""
    import numpy
    import spacy
    from gensim.models import Word2Vec

    nlp = spacy.blank("en")
    texts = [json.loads(line)["text"] for line in raw.open(encoding="utf8")]
    sentences = [[t.text for t in doc] for doc in nlp.tokenizer.pipe(texts)]
    w2v = Word2Vec(sentences, vector_size=100, window=5, min_count=2, epochs=5, seed=0, workers=2)
    nlp.vocab.reset_vectors(width=100)
    for word in w2v.wv.index_to_key:
        nlp.vocab.set_vector(word, numpy.asarray(w2v.wv[word], dtype="f"))
    nlp.to_disk(path)


def run_arm(prep: dict, arm: str) -> dict:
    root = prep["root"]
    extra = ["--paths.vectors", str(prep["vectors"])] if arm == "vectors" else []
    init = []
    pretrain_s = 0.0
    if arm != "none":
        out = root / f"pretrain-{arm}"
        config = root / ("config_vectors.cfg" if arm == "vectors" else "config.cfg")
        cmd = python_cmd(
            "-m",
            "spacy_transfer",
            "pretrain",
            str(config),
            str(out),
            "--paths.raw_text",
            str(prep["raw"]),
            "--pretraining.max_epochs",
            str(PRETRAIN_EPOCHS),
            "--corpora.pretrain.limit",
            str(PRETRAIN_DOCS),
            *extra,
        )
        pretrain_s = run_measured(cmd)["wall_s"]
        init = ["--paths.init_tok2vec", str(out / "model-last.bin")]
    out = root / f"train-{arm}"
    cmd = python_cmd(
        "-m",
        "spacy_transfer",
        "train",
        str(root / "config.cfg"),
        "--output",
        str(out),
        "--paths.train",
        str(root / "train.spacy"),
        "--paths.dev",
        str(root / "dev.spacy"),
        "--training.max_steps",
        str(STEPS),
        "--training.eval_frequency",
        "200",
        *init,
        *extra,
    )
    train_s = run_measured(cmd)["wall_s"]
    perf = json.loads((out / "model-best" / "meta.json").read_text())["performance"]
    return {
        "tag_acc": round(perf["tag_acc"], 4),
        "dep_las": round(perf["dep_las"], 4),
        "pretrain_s": pretrain_s,
        "train_s": train_s,
    }


def main() -> dict:
    prep = prepare()
    arms = {}
    for arm in ("none", "characters", "vectors"):
        arms[arm] = run_arm(prep, arm)
        print(arm, arms[arm], flush=True)
    base = arms["none"]
    rows = []
    for arm in ("characters", "vectors"):
        for metric in ("tag_acc", "dep_las"):
            rows.append(
                {
                    "metric": f"{metric} with {arm} pretraining (baseline: none)",
                    "ours": arms[arm][metric],
                    "baseline": base[metric],
                    "ratio": round(arms[arm][metric] / base[metric], 4),
                    "target": "(report)",
                }
            )
    notes = (
        f"UD EWT: {TRAIN_SENTS} training sentences, full dev; {STEPS} training steps; pretraining {PRETRAIN_EPOCHS} epochs on "
        f"{PRETRAIN_DOCS} WikiText-2 paragraphs; one seed (0) per arm, so differences under ~0.5 points are within run-to-run noise."
    )
    result = {"rows": rows, "notes": notes, "arms": arms}
    save_result("pretrain_accuracy", result)
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
