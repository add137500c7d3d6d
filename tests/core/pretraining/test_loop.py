"""The pretraining loop on real text: files written, losses fall, spaCy's semantics kept."""

from __future__ import annotations

import srsly
from thinc.api import Model

from spacy_transfer.core.pretraining import pretrain, setup_pretraining
from spacy_transfer.core.pretraining.state_file import find_state, read_state

from .conftest import tiny_config


def _log(out):
    return list(srsly.read_jsonl(out / "log.jsonl"))


def test_characters_objective_writes_weights_per_epoch(tmp_path, raw_jsonl):
    out = tmp_path / "out"
    result = pretrain(tiny_config(raw_jsonl), out)
    names = sorted(p.name for p in out.iterdir())
    # Weights for every epoch, as spaCy; one resume state, for the newest weights
    # (model1 and model-last are the same weights, so they share model-last's).
    assert names == [
        "config.cfg",
        "log.jsonl",
        "model-last.bin",
        "model-last.state.safetensors",
        "model0.bin",
        "model1.bin",
    ]
    assert find_state(out / "model1.bin") == out / "model-last.state.safetensors"
    assert find_state(out / "model0.bin") is None
    log = _log(out)
    assert [row["epoch"] for row in log] == [0, 1, 2]  # spaCy logs model-last as epoch max_epochs
    assert log[-1]["nr_word"] == result.words > 1000
    # The per-epoch loss falls as the layer learns the characters of the words.
    assert log[1]["epoch_loss"] < log[0]["epoch_loss"]


def test_keep_states_keeps_the_newest_n_and_minus_one_keeps_all(tmp_path, raw_jsonl):
    config = tiny_config(raw_jsonl, {"pretraining.max_epochs": 4})
    pretrain(config, tmp_path / "two", keep_states=2)
    states = sorted(p.name for p in (tmp_path / "two").glob("*.safetensors"))
    assert states == ["model-last.state.safetensors", "model2.state.safetensors"]  # model3's is model-last's
    pretrain(config, tmp_path / "all", keep_states=-1)
    for epoch in range(3):
        _, meta = read_state(find_state(tmp_path / "all" / f"model{epoch}.bin"))
        assert (meta["epoch"], meta["batches_done"]) == (epoch, None)
    pretrain(config, tmp_path / "none", skip_last=True, keep_states=0)
    assert not list((tmp_path / "none").glob("*.safetensors"))


def test_a_resumed_run_replaces_the_states_of_the_run_it_continues(tmp_path, raw_jsonl):
    out = tmp_path / "out"
    pretrain(tiny_config(raw_jsonl, {"pretraining.max_epochs": 2}), out, skip_last=True)
    assert sorted(p.name for p in out.glob("*.safetensors")) == ["model1.state.safetensors"]
    pretrain(
        tiny_config(raw_jsonl, {"pretraining.max_epochs": 4}),
        out,
        resume_path=out / "model1.bin",
        skip_last=True,
    )
    assert sorted(p.name for p in out.glob("*.safetensors")) == ["model3.state.safetensors"]


def test_weights_file_is_the_layer_as_spacy_writes_it(tmp_path, raw_jsonl):
    """model{N}.bin is thinc bytes of the tok2vec model, loadable with spaCy's own from_bytes."""
    out = tmp_path / "out"
    pretrain(tiny_config(raw_jsonl, {"pretraining.max_epochs": 1}), out)
    setup = setup_pretraining(tiny_config(raw_jsonl))
    layer = setup.nlp.get_pipe("tok2vec").model
    layer.from_bytes((out / "model0.bin").read_bytes())
    assert isinstance(layer, Model) and layer.get_dim("nO") == 32


def test_save_every_n_batches_and_every_n_epochs(tmp_path, raw_jsonl):
    out = tmp_path / "out"
    config = tiny_config(
        raw_jsonl, {"pretraining.max_epochs": 3, "pretraining.n_save_epoch": 2, "pretraining.n_save_every": 5}
    )
    pretrain(config, out, skip_last=True)
    names = {p.name for p in out.glob("*.bin")}
    # n_save_epoch=2: epochs 0 and 2 (the last); temp files from n_save_every.
    assert {"model0.bin", "model2.bin"} <= names and "model1.bin" not in names
    assert {"model0.temp.bin", "model1.temp.bin", "model2.temp.bin"} <= names
    assert "model-last.bin" not in names


def test_vectors_objective_cosine_and_l2(tmp_path, raw_jsonl, vectors_model):
    for loss in ("cosine", "L2"):
        out = tmp_path / loss
        objective = {
            "@architectures": "spacy.PretrainVectors.v1",
            "maxout_pieces": 2,
            "hidden_size": 32,
            "loss": loss,
        }
        config = tiny_config(
            raw_jsonl,
            {
                "paths.vectors": str(vectors_model),
                "pretraining.objective": objective,
                "pretraining.max_epochs": 3,
            },
        )
        pretrain(config, out)
        log = _log(out)
        assert log[2]["epoch_loss"] < log[0]["epoch_loss"], (loss, log)


def test_listener_layer_resolves_to_its_upstream(tmp_path, raw_jsonl):
    """[pretraining] component = tagger, layer = tok2vec is a listener: the tok2vec component is trained."""
    config = tiny_config(raw_jsonl, {"pretraining.component": "tagger", "pretraining.layer": "tok2vec"})
    setup = setup_pretraining(config)
    assert setup.objective.target.component == "tok2vec"
    assert setup.objective.target.model is setup.nlp.get_pipe("tok2vec").model


def test_plain_text_gz_through_the_default_jsonl_reader(tmp_path, paragraphs):
    import gzip

    path = tmp_path / "text.txt.gz"
    with gzip.open(path, "wt", encoding="utf8") as f:
        f.write("\n".join(paragraphs) + "\n")
    out = tmp_path / "out"
    result = pretrain(tiny_config(path, {"pretraining.max_epochs": 1}), out)
    assert result.words > 1000 and (out / "model0.bin").exists()
