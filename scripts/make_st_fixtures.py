"""Build pipelines with the real spacy-transformers (1.4.0 or 2.0) and record what it outputs.

Runs inside a spacy-transformers venv (``scripts/make_st_fixtures.sh`` creates both with
``benchmarks/_anchor.py``: ``st14`` is spacy 3.8, spacy-transformers 1.4.0, transformers
4.53.2; ``st20`` is spacy-transformers 2.0 from ``../shared/anchors`` on our transformers).
``python scripts/make_st_fixtures.py st20`` writes ``tests/fixtures/st20``.
For random-init BERT and RoBERTa encoders (hidden size 32, tokenizers trained on a few
sentences) it trains transformer + tagger + ner through listeners, and a tagger with its
own ``Tok2VecTransformer``, for a few steps; saves each pipeline under
``tests/fixtures/st14/<name>/``; and writes ``outputs.json`` there: tags, entities,
``trf_data`` probes (tensor shapes and values, alignment, wordpieces) and what an
annotation setter in the style of public spacy-transformers code computes. Our tests
load these pipelines and compare.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy  # noqa: E402
import spacy  # noqa: E402
import torch  # noqa: E402
from spacy.training import Example  # noqa: E402
from thinc.api import Adam  # noqa: E402

import spacy_transformers  # noqa: E402, F401
from tests.core.transformer.tiny import make_tiny_model_dir  # noqa: E402

ANCHOR = sys.argv[1] if len(sys.argv) > 1 else "st14"
OUT = ROOT / "tests" / "fixtures" / ANCHOR
TRAIN = [
    ("Apple is looking at buying a U.K. startup.", [(0, 5, "ORG"), (27, 31, "GPE")]),
    ("San Francisco considers banning delivery robots.", [(0, 13, "GPE")]),
    ("Émile went to Zürich in 2024.", [(0, 5, "PERSON"), (14, 20, "GPE")]),
    ("The quick brown fox jumps over the lazy dog.", []),
    ("She said hello to New York and left quickly.", [(18, 26, "GPE")]),
]


EWT = ROOT.parent / "shared" / "data" / "ud_english-ewt" / "en_ewt-ud-train.conllu"


def ewt_sentences(n: int = 40) -> list:
    """(words, spaces, tags, heads, deps) of the first ``n`` UD English-EWT train sentences."""
    out, rows = [], []
    for line in EWT.read_text(encoding="utf8").splitlines():
        if not line:
            if rows:
                words = [r[1] for r in rows]
                spaces = ["SpaceAfter=No" not in r[9] for r in rows]
                heads = [int(r[6]) - 1 if r[6] != "0" else i for i, r in enumerate(rows)]
                deps = [r[7] for r in rows]
                out.append((words, spaces, [r[4] for r in rows], heads, deps))
                rows = []
                if len(out) == n:
                    break
        elif not line.startswith("#"):
            cols = line.split("\t")
            if cols[0].isdigit():
                rows.append(cols)
    return out


PROBE_TEXTS = [
    "Apple is buying a startup in London.",
    "Tabs\tand  double  spaces, emoji 🙂 and café.",
    "",
    "A longer text that the strided span getter has to cut into more than one window, " * 3,
]


def doc_vector_setter(docs, trf_data) -> None:
    """In the style of public annotation setters: a doc vector from the aligned rows of
    tensors[0], and the shape of the batch's tensors."""
    for doc, data in zip(docs, trf_data.doc_data):
        if not data.tensors:  # a Doc without spans (an empty text)
            doc.user_data["trf_vector"] = []
            continue
        rows = data.tensors[0].reshape(-1, data.width)
        doc.user_data["trf_vector"] = (
            rows[data.align.dataXd].mean(axis=0).tolist() if len(data.align.dataXd) else []
        )
        doc.user_data["batch_shape"] = list(trf_data.tensors[0].shape)


def build(model_dir: Path, independent: bool):
    nlp = spacy.blank("en")
    spans = {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 16, "stride": 12}
    trf_model = {
        "@architectures": "spacy-transformers.TransformerModel.v3",
        "name": str(model_dir),
        "get_spans": spans,
        "tokenizer_config": {"use_fast": True},
    }
    if independent:
        tok2vec = {
            "@architectures": "spacy-transformers.Tok2VecTransformer.v3",
            "name": str(model_dir),
            "get_spans": spans,
            "tokenizer_config": {"use_fast": True},
            "pooling": {"@layers": "reduce_mean.v1"},
        }
        nlp.add_pipe("tagger", config={"model": {"@architectures": "spacy.Tagger.v2", "tok2vec": tok2vec}})
        return nlp
    nlp.add_pipe("transformer", config={"model": trf_model})
    listener = {
        "@architectures": "spacy-transformers.TransformerListener.v1",
        "pooling": {"@layers": "reduce_mean.v1"},
    }
    nlp.add_pipe("tagger", config={"model": {"@architectures": "spacy.Tagger.v2", "tok2vec": listener}})
    nlp.add_pipe(
        "ner",
        config={
            "model": {
                "@architectures": "spacy.TransitionBasedParser.v2",
                "state_type": "ner",
                "extra_state_tokens": False,
                "hidden_width": 16,
                "maxout_pieces": 2,
                "use_upper": True,
                "tok2vec": listener,
            }
        },
    )
    nlp.add_pipe(
        "parser",
        config={
            "model": {
                "@architectures": "spacy.TransitionBasedParser.v2",
                "state_type": "parser",
                "extra_state_tokens": False,
                "hidden_width": 16,
                "maxout_pieces": 2,
                "use_upper": True,
                "tok2vec": listener,
            }
        },
    )
    return nlp


def examples(nlp):
    """Entities on a few sentences; tags and trees from UD English-EWT (real annotation)."""
    from spacy.tokens import Doc

    out = []
    for text, ents in TRAIN:
        doc = nlp.make_doc(text)
        out.append(Example.from_dict(doc, {"entities": [(s, e, label) for s, e, label in ents]}))
    for words, spaces, tags, heads, deps in ewt_sentences():
        doc = Doc(nlp.vocab, words=words, spaces=spaces)
        out.append(Example.from_dict(doc, {"tags": tags, "heads": heads, "deps": deps}))
    return out


def probe(nlp, name: str) -> dict:
    if "transformer" in nlp.pipe_names:
        nlp.get_pipe("transformer").set_extra_annotations = doc_vector_setter
    docs = list(nlp.pipe(PROBE_TEXTS))
    out = {"texts": PROBE_TEXTS, "docs": []}
    for doc in docs:
        item = {
            "tags": [t.tag_ for t in doc],
            "ents": [(e.start_char, e.end_char, e.label_) for e in doc.ents],
            "heads": [t.head.i for t in doc],
            "deps": [t.dep_ for t in doc],
        }
        data = doc._.get("trf_data") if doc.has_extension("trf_data") else None
        if data is not None and "transformer" in nlp.pipe_names and "last_hidden_state" in data.model_output:
            lhs = data.tensors[0]
            item.update(
                {
                    "n_tensors": len(data.tensors),
                    "last_hidden_state_shape": list(lhs.shape),
                    "pooler_shape": list(data.tensors[-1].shape) if len(data.tensors) > 1 else None,
                    # Rows that align points to, per token (padding positions differ by design).
                    "aligned_rows": lhs.reshape(-1, data.width)[data.align.dataXd].round(6).tolist(),
                    "align_lengths": data.align.lengths.tolist(),
                    "wordpiece_lengths": list(data.wordpieces.lengths),
                    "wordpiece_ids": [
                        row[:n].tolist() for row, n in zip(data.wordpieces.input_ids, data.wordpieces.lengths)
                    ],
                    "wordpiece_strings": [
                        s[:n] for s, n in zip(data.wordpieces.strings, data.wordpieces.lengths)
                    ],
                    "trf_vector": doc.user_data.get("trf_vector"),
                }
            )
        out["docs"].append(item)
    return out


# spacy-transformers' API docs (Transformer component), as printed there.
DOC_SNIPPET_CONFIGS = {
    "default": None,
    "custom": {
        "model": {
            "@architectures": "spacy-transformers.TransformerModel.v3",
            "name": "bert-base-uncased",
            "tokenizer_config": {"use_fast": True},
            "transformer_config": {"output_attentions": True},
            "mixed_precision": True,
            "grad_scaler_config": {"init_scale": 32768},
        }
    },
}


def doc_snippets() -> dict:
    """The component configs the documentation's add_pipe snippets produce (no weights load)."""
    out = {}
    for name, config in DOC_SNIPPET_CONFIGS.items():
        nlp = spacy.blank("en")
        nlp.add_pipe("transformer", config=config) if config else nlp.add_pipe("transformer")
        out[name] = nlp.config["components"]["transformer"]
    return out


def spacy_transformers_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("spacy-transformers")


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    (OUT / "doc_snippets.json").write_text(json.dumps(doc_snippets(), indent=1, sort_keys=True))
    with tempfile.TemporaryDirectory() as tmp:
        for arch, independent in (("bert", False), ("roberta", False), ("bert", True)):
            name = f"{arch}-tok2vec" if independent else arch
            random.seed(0)
            numpy.random.seed(0)
            torch.manual_seed(0)
            model_dir = make_tiny_model_dir(Path(tmp), arch, max_len=64)
            nlp = build(model_dir, independent)
            egs = examples(nlp)
            nlp.initialize(lambda egs=egs: egs)
            optimizer = Adam(0.005)  # enough for the tiny models to predict more than one tag
            for _ in range(40):
                nlp.update(egs, sgd=optimizer, drop=0.0, losses={})
            nlp.to_disk(OUT / name)
            if name == "bert":  # the same pipeline as spacy-transformers' nlp.to_bytes()
                (OUT / f"{name}.bytes").write_bytes(nlp.to_bytes())
            result = probe(nlp, name)
            (OUT / name / "outputs.json").write_text(json.dumps(result))
            print(
                f"{name}: saved, {sum(f.stat().st_size for f in (OUT / name).rglob('*') if f.is_file()) // 1024} KiB"
            )
    import transformers

    (OUT / "README.md").write_text(
        f"Pipelines saved by spacy-transformers {spacy_transformers_version()} (transformers "
        f"{transformers.__version__}) and the outputs it gave for them.\n"
        "Made by `scripts/make_st_fixtures.sh`; read by `tests/compat/spacy_transformers/test_saved_pipelines.py`.\n"
        "Random-init tiny encoders (hidden size 32) with tokenizers trained on a few sentences; no real weights.\n"
    )


if __name__ == "__main__":
    main()
