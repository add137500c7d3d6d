"""Vectors as features: MultiHashEmbed's include_static_vectors and the spec's custom
embeddings (StaticVectors alone, and StaticVectors added to a learned Embed table) train
end to end with `spacy-transfer train` on a UD English-EWT slice, with vectors trained by
`init vectors --train` on real raw text."""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest
import spacy

from tests.conftest import run_cli
from tests.core.training.data import SNIPPETS, overrides_args

HERE = Path(__file__).parent
TRAIN_ARGS = {"training.max_steps": 6, "training.eval_frequency": 3}


@pytest.fixture(scope="module")
def vectors(tmp_path_factory, shared_data) -> Path:
    from spacy_transfer.core.vectors.trainer import TrainSettings, train_and_convert

    out = tmp_path_factory.mktemp("vectors") / "inaugural"
    settings = TrainSettings(dims=32, epochs=1, min_count=3, workers=2)
    train_and_convert("en", shared_data / "raw_text" / "nltk_inaugural", out, settings)
    return out


def filled(config: Path, dest: Path, code: Path = None, overrides: dict = None) -> Path:
    from spacy_transfer.core.config import fill_config, import_code, load_config

    import_code(code)
    text = fill_config(load_config(config, overrides or {}), where=config.name).to_str()
    dest.write_text(text, encoding="utf8")
    return dest


def train(config: Path, out: Path, corpora, vectors: Path, code: Path = None, **extra):
    args = ["train", str(config), "--output", str(out)]
    if code is not None:
        args += ["--code", str(code)]
    overrides = {
        "paths.train": str(corpora.ud_train),
        "paths.dev": str(corpora.ud_dev),
        **TRAIN_ARGS,
        **extra,
    }
    if vectors is not None:
        overrides["paths.vectors"] = str(vectors)
    return run_cli(*args, *overrides_args(overrides))


def layer_names(nlp) -> set:
    return {node.name for node in nlp.get_pipe("tagger").model.walk()}


@pytest.fixture(scope="module")
def multihash_run(tmp_path_factory, training_corpora, vectors):
    tmp = tmp_path_factory.mktemp("multihash")
    config = filled(SNIPPETS / "static_vectors.cfg", tmp / "config.cfg")
    tiny = {
        "components.tagger.model.tok2vec.embed.width": 32,
        "components.tagger.model.tok2vec.encode.width": 32,
        "components.tagger.model.tok2vec.encode.depth": 1,
    }
    result = train(config, tmp / "out", training_corpora, vectors, **tiny)
    assert result.exit_code == 0, result.output
    return tmp / "out", config


def test_include_static_vectors_trains_with_converted_vectors(multihash_run, vectors):
    out, _ = multihash_run
    nlp = spacy.load(out / "model-best")
    assert "static_vectors" in layer_names(nlp)
    assert nlp.vocab.vectors.shape == spacy.load(vectors).vocab.vectors.shape
    assert "tag_acc" in nlp.meta["performance"]
    assert len(nlp("The people elected a new president.")) == 7


def test_the_static_vectors_feed_the_predictions(multihash_run):
    nlp = spacy.load(Path(multihash_run[0]) / "model-best")
    tagger = nlp.get_pipe("tagger")
    doc = nlp.make_doc("the people of the nation")
    before = tagger.model.predict([doc])[0].copy()
    row = nlp.vocab.vectors.find(key="people")
    nlp.vocab.vectors.data[row] = nlp.vocab.vectors.data[nlp.vocab.vectors.find(key="nation")]
    after = tagger.model.predict([nlp.make_doc("the people of the nation")])[0]
    assert not numpy.allclose(before[1], after[1])  # the changed word's scores move
    numpy.testing.assert_allclose(before[3:], after[3:], rtol=1e-5)  # outside the window: same


def test_static_vectors_without_a_vectors_table_is_an_error(tmp_path, training_corpora, multihash_run):
    _, config = multihash_run
    result = train(config, tmp_path / "out", training_corpora, None)
    assert result.exit_code == 1
    assert "vector" in result.output.lower()
    assert not (tmp_path / "out" / "model-best").exists()


def test_spec_custom_embedding_static_vectors_only(tmp_path, training_corpora, vectors):
    # The spec's config unchanged; its code with the ragged2list() it needs to train.
    code = HERE / "snippets" / "static_vectors_only.py"
    config = filled(SNIPPETS / "custom_embedding.cfg", tmp_path / "config.cfg", code)
    result = train(
        config,
        tmp_path / "out",
        training_corpora,
        vectors,
        code=code,
        **{
            "components.tagger.model.tok2vec.embed.output_width": 32,
            "components.tagger.model.tok2vec.encode.width": 32,
        },
    )
    assert result.exit_code == 0, result.output
    nlp = spacy.load(tmp_path / "out" / "model-best")
    assert "static_vectors" in layer_names(nlp)


def test_spec_custom_embedding_with_learned_table(tmp_path, training_corpora, vectors):
    code = HERE / "snippets" / "custom_vectors_embedding.py"
    config = filled(
        HERE / "snippets" / "custom_vectors_embedding.cfg",
        tmp_path / "config.cfg",
        code,
        {"paths.vectors": str(vectors)},
    )
    result = train(config, tmp_path / "out", training_corpora, vectors, code=code)
    assert result.exit_code == 0, result.output
    nlp = spacy.load(tmp_path / "out" / "model-best")
    names = layer_names(nlp)
    assert {"static_vectors", "embed", "remap_ids"} <= names
    embed = next(n for n in nlp.get_pipe("tagger").model.walk() if n.name == "embed")
    assert embed.get_param("E").shape == (1001, 64)
    assert nlp.meta["performance"]["tag_acc"] > 0
