"""Pretraining fixtures: a slice of real raw text and a tiny tok2vec + tagger config."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from thinc.api import Config

from ...conftest import DATA

WIKITEXT = DATA / "raw_text" / "wikitext-2" / "valid.txt.gz"

# A pipeline small enough that a few pretraining epochs take about a second on one core.
TINY_CONFIG = """
[paths]
raw_text = null
vectors = null
init_tok2vec = null
train = null
dev = null

[system]
seed = 0
gpu_allocator = null

[nlp]
lang = "en"
pipeline = ["tok2vec", "tagger"]

[components]

[components.tok2vec]
factory = "tok2vec"

[components.tok2vec.model]
@architectures = "spacy.Tok2Vec.v2"

[components.tok2vec.model.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = 32
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
rows = [500, 100, 200, 200]
include_static_vectors = false

[components.tok2vec.model.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = 32
depth = 1
window_size = 1
maxout_pieces = 2

[components.tagger]
factory = "tagger"

[components.tagger.model]
@architectures = "spacy.Tagger.v2"
nO = null

[components.tagger.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
width = 32
upstream = "*"

[corpora]

[corpora.pretrain]
@readers = "spacy.JsonlCorpus.v1"
path = ${paths.raw_text}
min_length = 5
max_length = 500
limit = 0

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${paths.train}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${paths.dev}

[training]
seed = ${system.seed}
gpu_allocator = ${system.gpu_allocator}

[pretraining]
max_epochs = 2
dropout = 0.2
n_save_every = null
n_save_epoch = null
component = "tok2vec"
layer = ""
corpus = "corpora.pretrain"

[pretraining.batcher]
@batchers = "spacy.batch_by_words.v1"
size = 500
discard_oversize = false
tolerance = 0.2
get_length = null

[pretraining.objective]
@architectures = "spacy.PretrainCharacters.v1"
maxout_pieces = 2
hidden_size = 32
n_characters = 2

[pretraining.optimizer]
@optimizers = "Adam.v1"
beta1 = 0.9
beta2 = 0.999
L2_is_weight_decay = true
L2 = 0.01
grad_clip = 1.0
use_averages = true
eps = 1e-8
learn_rate = 0.001

[initialize]
vectors = ${paths.vectors}
init_tok2vec = ${paths.init_tok2vec}
"""


def wikitext_paragraphs(n: int) -> List[str]:
    """The first ``n`` prose paragraphs of WikiText-2 (validation split)."""
    texts: List[str] = []
    with gzip.open(WIKITEXT, "rt", encoding="utf8") as f:
        for line in f:
            text = line.strip()
            if len(text) > 40 and not text.startswith("="):
                texts.append(text)
                if len(texts) >= n:
                    break
    return texts


@pytest.fixture(scope="session")
def paragraphs(shared_data) -> List[str]:
    return wikitext_paragraphs(60)


@pytest.fixture(scope="session")
def raw_jsonl(tmp_path_factory, paragraphs) -> Path:
    path = tmp_path_factory.mktemp("raw") / "text.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in paragraphs), encoding="utf8")
    return path


def tiny_config(raw_text: Optional[Path] = None, overrides: Optional[Dict[str, object]] = None) -> Config:
    config = Config().from_str(TINY_CONFIG, interpolate=False)
    if raw_text is not None:
        config["paths"]["raw_text"] = str(raw_text)
    for dotted, value in (overrides or {}).items():
        *sections, key = dotted.split(".")
        node = config
        for s in sections:
            node = node.setdefault(s, {})
        node[key] = value
    return config


@pytest.fixture(scope="session")
def vectors_model(tmp_path_factory, paragraphs) -> Path:
    """A small vectors pipeline trained with gensim word2vec on the same real text."""
    import numpy
    import spacy
    from gensim.models import Word2Vec

    nlp = spacy.blank("en")
    sentences = [[t.text for t in nlp.make_doc(p)] for p in paragraphs]
    w2v = Word2Vec(sentences, vector_size=24, min_count=1, epochs=3, seed=1, workers=1)
    words = list(w2v.wv.index_to_key)
    nlp.vocab.reset_vectors(width=24)
    for word in words:
        nlp.vocab.set_vector(word, numpy.asarray(w2v.wv[word], dtype="f"))
    path = tmp_path_factory.mktemp("vectors") / "vectors_model"
    nlp.to_disk(path)
    return path
