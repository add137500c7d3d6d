"""Small real corpora and configs for the training tests (built once per test session)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[3]
SNIPPETS = REPO / "tests" / "snippets"

# Tiny widths keep every training test to seconds on two cores.
TINY_SHARED = {
    "components.tok2vec.model.embed.width": 32,
    "components.tok2vec.model.embed.rows": [500, 100, 250, 250],
    "components.tok2vec.model.encode.width": 32,
    "components.tok2vec.model.encode.depth": 1,
    "components.ner.model.tok2vec.width": 32,
    "components.ner.model.hidden_width": 16,
}
TINY_INDEPENDENT = {
    "components.ner.model.tok2vec.embed.width": 32,
    "components.ner.model.tok2vec.embed.rows": [500, 100, 250, 250],
    "components.ner.model.tok2vec.encode.width": 32,
    "components.ner.model.tok2vec.encode.depth": 1,
    "components.ner.model.hidden_width": 16,
}


@dataclass
class Corpora:
    root: Path
    ud_train: Path
    ud_dev: Path
    uner_train: Path
    uner_dev: Path
    mixed_train: Path  # UD (tags, deps) and UNER (entities) docs together: partial annotation
    mixed_dev: Path
    tiny_train: Path  # a few mixed docs, for transformer pipelines
    tiny_dev: Path
    empty: Path


def make_corpora(root: Path, data: Path) -> Corpora:
    from spacy_transfer.core.corpora import read_conllu, read_iob2, write_docbin

    ud = data / "ud_english-ewt"
    uner = data / "uner_english-ewt"
    ud_train = read_conllu(ud / "en_ewt-ud-train.conllu", n_sents=5, limit=150)
    ud_dev = read_conllu(ud / "en_ewt-ud-dev.conllu", n_sents=5, limit=50)
    uner_train = read_iob2(uner / "draft-2022-12-02" / "en_ewt-ud-train.iob2", n_sents=5, limit=150)
    uner_dev = read_iob2(uner / "en_ewt-ud-dev.iob2", n_sents=5, limit=50)
    paths = {}
    for name, docs in [
        ("ud_train", ud_train),
        ("ud_dev", ud_dev),
        ("uner_train", uner_train),
        ("uner_dev", uner_dev),
        ("mixed_train", ud_train + uner_train),
        ("mixed_dev", ud_dev + uner_dev),
        ("tiny_train", ud_train[:4] + uner_train[:4]),
        ("tiny_dev", ud_dev[:2] + uner_dev[:2]),
        ("empty", []),
    ]:
        paths[name] = write_docbin(docs, root / f"{name}.spacy")
    return Corpora(root=root, **paths)


def overrides_args(overrides: Dict[str, object]) -> List[str]:
    import json

    args: List[str] = []
    for key, value in overrides.items():
        args += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
    return args


def filled_snippet(name: str, dest: Path) -> Path:
    """A spec snippet completed with every default (as 'init fill-config' does)."""
    from spacy_transfer.core.config import fill_config, load_config

    config = fill_config(load_config(SNIPPETS / name), where=name)
    dest.write_text(config.to_str(), encoding="utf8")
    return dest
