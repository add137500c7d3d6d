"""`spacy-transfer train` on a transformer pipeline from `init config --transformer`
(a tiny random-init BERT built in the test), including an exact resume: the optimizer
state of torch parameters is keyed by shim ids, which differ between processes."""

from __future__ import annotations

import numpy
import spacy

from tests.conftest import pipeline_params, run_cli
from tests.core.training.data import overrides_args
from tests.core.transformer.conftest import tiny_model  # noqa: F401  (fixture)


def test_tiny_transformer_pipeline_trains_and_resumes_exactly(tiny_model, training_corpora, tmp_path):  # noqa: F811
    config = tmp_path / "config.cfg"
    assert (
        run_cli(
            "init",
            "config",
            str(config),
            "--pipeline",
            "tagger,ner",
            "--transformer",
            str(tiny_model("bert")),
        ).exit_code
        == 0
    )
    base = overrides_args(
        {
            "paths.train": str(training_corpora.tiny_train),
            "paths.dev": str(training_corpora.tiny_dev),
            "training.eval_frequency": 1,
        }
    )
    full = run_cli("train", str(config), "-o", str(tmp_path / "full"), *base, "--training.max_steps", "2")
    assert full.exit_code == 0, full.output
    assert "LOSS TRANSFORMER" in full.output
    nlp = spacy.load(tmp_path / "full" / "model-best")
    assert nlp.pipe_names == ["transformer", "tagger", "ner"]
    assert nlp("Alice lives in Berlin.")._.trf_data is not None

    # Stop at step 1, then continue to step 2: the same weights, torch ones included.
    first = run_cli("train", str(config), "-o", str(tmp_path / "split"), *base, "--training.max_steps", "1")
    assert first.exit_code == 0, first.output
    second = run_cli(
        "train", str(config), "-o", str(tmp_path / "split"), *base, "--training.max_steps", "2", "--resume"
    )
    assert second.exit_code == 0, second.output
    a, b = (
        pipeline_params(tmp_path / "full" / "model-last"),
        pipeline_params(tmp_path / "split" / "model-last"),
    )
    assert a.keys() == b.keys() and any("/shim" in k for k in a)
    for key in a:
        assert numpy.allclose(a[key], b[key], atol=1e-6, rtol=0), key


def test_mixed_precision_on_a_cpu_without_bf16_trains_in_float32_with_one_warning(
    tiny_model,  # noqa: F811
    training_corpora,
    tmp_path,
):
    """`init config --gpu` writes mixed_precision = true; on an AVX2-only CPU (torch's kernels
    capped to AVX2 here) bf16 would be several times slower, so train says so once and runs fp32."""
    from tests.conftest import run_cli_subprocess
    from tests.core.test_cpu import AVX2_ONLY

    config = tmp_path / "config.cfg"
    made = run_cli(
        "init",
        "config",
        str(config),
        "--pipeline",
        "tagger",
        "--gpu",
        "--transformer",
        str(tiny_model("bert")),
    )
    assert made.exit_code == 0 and "mixed_precision = true" in config.read_text()
    args = overrides_args(
        {"paths.train": str(training_corpora.tiny_train), "paths.dev": str(training_corpora.tiny_dev)}
    )
    out = run_cli_subprocess(
        ["train", str(config), "-o", str(tmp_path / "out"), *args, "--training.max_steps", "2"], env=AVX2_ONLY
    )
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout + out.stderr
    assert text.count("runs float32 on this CPU") == 1, text
    assert "⚠" in text and "SPACY_TRANSFER_FORCE_BF16=1" in text


def test_frozen_bottom_layers_survive_training_and_an_exact_resume(
    tiny_model,  # noqa: F811
    training_corpora,
    tmp_path,
):
    """init config --freeze-layers 1: after train (and after a kill-free split + --resume), the
    embeddings and layer 0 equal the loaded encoder's bit for bit, and the split run equals the whole one."""
    from safetensors.numpy import load_file

    model_dir = tiny_model("bert")
    config = tmp_path / "config.cfg"
    made = run_cli(
        "init",
        "config",
        str(config),
        "--pipeline",
        "tagger",
        "--transformer",
        str(model_dir),
        "--freeze-layers",
        "1",
    )
    assert made.exit_code == 0, made.output
    base = overrides_args(
        {"paths.train": str(training_corpora.tiny_train), "paths.dev": str(training_corpora.tiny_dev)}
    )
    args = [*base, "--training.eval_frequency", "1"]
    assert (
        run_cli(
            "train", str(config), "-o", str(tmp_path / "full"), *args, "--training.max_steps", "2"
        ).exit_code
        == 0
    )
    assert (
        run_cli(
            "train", str(config), "-o", str(tmp_path / "split"), *args, "--training.max_steps", "1"
        ).exit_code
        == 0
    )
    resumed = run_cli(
        "train", str(config), "-o", str(tmp_path / "split"), *args, "--training.max_steps", "2", "--resume"
    )
    assert resumed.exit_code == 0, resumed.output
    loaded = load_file(str(model_dir / "model.safetensors"))
    trained = load_file(
        str(tmp_path / "full" / "model-last" / "transformer" / "model" / "hf0" / "model.safetensors")
    )
    frozen = [k for k in loaded if k.startswith(("embeddings.", "encoder.layer.0."))]
    assert frozen and all(numpy.array_equal(loaded[k], trained[k]) for k in frozen)
    assert any(
        not numpy.array_equal(loaded[k], trained[k]) for k in loaded if k.startswith("encoder.layer.1.")
    )
    a, b = (
        pipeline_params(tmp_path / "full" / "model-last"),
        pipeline_params(tmp_path / "split" / "model-last"),
    )
    for key in a:
        assert numpy.allclose(a[key], b[key], atol=1e-6, rtol=0), key
