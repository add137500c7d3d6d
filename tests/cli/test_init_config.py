"""`spacy-transfer init config`: complete configs that spaCy's own `debug config` accepts."""

import subprocess
import sys

import pytest
from spacy import util

from ..conftest import run_cli
from ..core.transformer.conftest import minilm_path  # noqa: F401  (fixture)


def debug_config(path):
    """spaCy's own validator, in a fresh interpreter (entry points only)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "spacy",
            "debug",
            "config",
            str(path),
            "--paths.train",
            "x.spacy",
            "--paths.dev",
            "y.spacy",
        ],
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(
    "optimize,embedding,pipeline",
    [
        ("efficiency", "shared", "tagger,parser,ner"),
        ("accuracy", "shared", "tagger,morphologizer,parser,ner,textcat"),
        ("efficiency", "independent", "ner,spancat,textcat_multilabel"),
        ("accuracy", "independent", "tagger,trainable_lemmatizer,senter"),
        ("efficiency", "shared", "span_finder,spancat_singlelabel"),
    ],
)
def test_written_config_passes_spacy_debug_config(tmp_path, optimize, embedding, pipeline):
    out = tmp_path / "config.cfg"
    result = run_cli(
        "init", "config", str(out), "--pipeline", pipeline, "--optimize", optimize, "--embedding", embedding
    )
    assert result.exit_code == 0, result.output
    checked = debug_config(out)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Config is valid" in checked.stdout


def test_dash_writes_to_stdout():
    result = run_cli("init", "config", "-", "--pipeline", "ner", "--lang", "de")
    assert result.exit_code == 0
    config = util.load_config_from_str(result.stdout, interpolate=False)
    assert config["nlp"]["lang"] == "de"
    assert config["nlp"]["pipeline"] == ["tok2vec", "ner"]


def test_existing_file_needs_force(tmp_path):
    out = tmp_path / "config.cfg"
    out.write_text("keep me")
    result = run_cli("init", "config", str(out), "--pipeline", "ner")
    assert result.exit_code == 1
    assert "--force" in result.output
    assert out.read_text() == "keep me"
    assert run_cli("init", "config", str(out), "--pipeline", "ner", "--force").exit_code == 0
    assert "[components.ner]" in out.read_text()


def test_unknown_component_is_a_clean_error(tmp_path):
    result = run_cli("init", "config", str(tmp_path / "c.cfg"), "--pipeline", "tagger,nerr")
    assert result.exit_code == 1
    assert "nerr" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "c.cfg").exists()


@pytest.mark.parametrize("option", ["--transformer", "--vectors"])
def test_an_option_that_needs_a_name_refuses_the_next_flag(tmp_path, option):
    # "--transformer --force" once wrote a config whose model was named "--force".
    out = tmp_path / "c.cfg"
    result = run_cli("init", "config", str(out), "--pipeline", "ner", option, "--force")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{option} needs a name or folder, got '--force'" in result.output
    assert not out.exists()


def test_doc_vectors_write_an_embedding_pipeline_that_spacy_assembles(tmp_path, minilm_path):  # noqa: F811
    """--doc-vectors alone: a transformer and nothing else, with the sentence-transformers pooling;
    `spacy assemble` builds it and `spacy.load` gives normalized Doc vectors."""
    import numpy
    import spacy

    config = tmp_path / "embed.cfg"
    made = run_cli("init", "config", str(config), "--doc-vectors", "--transformer", str(minilm_path))
    assert made.exit_code == 0, made.output
    assert "spacy assemble" in made.output
    cfg = util.load_config(config)
    assert cfg["nlp"]["pipeline"] == ["transformer"]
    trf = cfg["components"]["transformer"]
    assert trf["factory"] == "transfer_transformer"
    assert (trf["doc_vectors"], trf["vector_pooling"], trf["normalize_vectors"]) == (True, "mean", True)
    out = subprocess.run(
        [sys.executable, "-m", "spacy", "assemble", str(config), str(tmp_path / "embedder")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    nlp = spacy.load(tmp_path / "embedder")
    a, b = nlp("A cat sat on the mat."), nlp("A kitten rested on the rug.")
    assert abs(numpy.linalg.norm(a.vector) - 1.0) < 1e-5 and a.similarity(b) > nlp(
        "Stock prices fell."
    ).similarity(a)


def test_doc_vectors_beside_components_and_refused_with_independent_embedding(tmp_path):
    made = run_cli("init", "config", str(tmp_path / "a.cfg"), "--doc-vectors", "--pipeline", "tagger")
    assert made.exit_code == 0, made.output
    cfg = util.load_config(tmp_path / "a.cfg")
    assert (
        cfg["nlp"]["pipeline"] == ["transformer", "tagger"]
        and cfg["components"]["transformer"]["doc_vectors"]
    )
    refused = run_cli(
        "init",
        "config",
        str(tmp_path / "b.cfg"),
        "--doc-vectors",
        "--pipeline",
        "tagger",
        "--embedding",
        "independent",
    )
    assert refused.exit_code == 1 and "--doc-vectors needs the shared transformer" in " ".join(
        refused.output.split()
    )
    assert not (tmp_path / "b.cfg").exists()


def test_freeze_layers_is_written_into_the_transformer_model_and_refused_without_one(tmp_path):
    made = run_cli(
        "init",
        "config",
        str(tmp_path / "a.cfg"),
        "--pipeline",
        "ner",
        "--transformer",
        "bert-base-cased",
        "--freeze-layers",
        "6",
    )
    assert made.exit_code == 0, made.output
    assert util.load_config(tmp_path / "a.cfg")["components"]["transformer"]["model"]["freeze_layers"] == 6
    refused = run_cli("init", "config", str(tmp_path / "b.cfg"), "--pipeline", "ner", "--freeze-layers", "2")
    assert (
        refused.exit_code == 1
        and "needs a transformer" in refused.output
        and not (tmp_path / "b.cfg").exists()
    )


def test_an_embedding_pipeline_defaults_to_a_sentence_embedding_encoder(tmp_path):
    assert run_cli("init", "config", str(tmp_path / "en.cfg"), "--doc-vectors").exit_code == 0
    name = util.load_config(tmp_path / "en.cfg")["components"]["transformer"]["model"]["name"]
    assert name == "sentence-transformers/all-MiniLM-L6-v2"
    assert run_cli("init", "config", str(tmp_path / "de.cfg"), "--doc-vectors", "--lang", "de").exit_code == 0
    name = util.load_config(tmp_path / "de.cfg")["components"]["transformer"]["model"]["name"]
    assert name == "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"


@pytest.mark.parametrize("embedding", ["shared", "independent"])
def test_adapter_lora_writes_an_adapter_block_into_the_transformer_model(tmp_path, embedding):
    made = run_cli(
        "init", "config", str(tmp_path / "a.cfg"), "--pipeline", "tagger,ner", "--transformer", "bert-base-cased",
        "--adapter", "lora", "--freeze-layers", "2", "--embedding", embedding,
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    config = util.load_config(tmp_path / "a.cfg")
    models = (
        [config["components"]["transformer"]["model"]]
        if embedding == "shared"
        else [config["components"][c]["model"]["tok2vec"] for c in ("tagger", "ner")]
    )
    for model in models:
        assert model["adapter"]["@adapters"] == "spacy-transfer.LoRA.v1"
        assert model["adapter"]["r"] == 8 and model["adapter"]["merge_adapters"] is True
        assert model["freeze_layers"] == 2


def test_adapter_lora_trains_at_five_times_the_full_fine_tuning_rate(tmp_path):
    rates = {}
    for name, extra in (("full", []), ("lora", ["--adapter", "lora"])):
        made = run_cli(
            "init", "config", str(tmp_path / f"{name}.cfg"), "--pipeline", "tagger", "--transformer", "bert-base-cased",
            *extra,
        )  # fmt: skip
        assert made.exit_code == 0, made.output
        rates[name] = util.load_config(tmp_path / f"{name}.cfg")["training"]["optimizer"]["learn_rate"][
            "initial_rate"
        ]
    assert rates == {"full": 5e-5, "lora": 2.5e-4}


def test_adapter_needs_a_transformer_and_a_known_kind_and_shows_in_help(tmp_path):
    for args in (["--adapter", "lora"], ["--transformer", "bert-base-cased", "--adapter", "prefix"]):
        refused = run_cli("init", "config", str(tmp_path / "b.cfg"), "--pipeline", "ner", *args)
        assert refused.exit_code == 1 and "--adapter" in refused.output, refused.output
        assert not (tmp_path / "b.cfg").exists()
    help_text = run_cli("init", "config", "--help").output
    assert "--adapter" in help_text and "--freeze-layers" in help_text
