"""`spacy-transfer train` with LoRA adapters from `init config --adapter lora` (a tiny random-init
BERT built in the test): a run killed with SIGKILL on 2 processes resumes to the very same
adapters; changed adapter settings and a frozen transformer with an adapter are refused;
a LoRA pipeline teaches a student in `distill`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy
import pytest
import spacy
from safetensors.numpy import load_file

from tests.conftest import REPO, run_cli
from tests.core.distill.conftest import distill_setup  # noqa: F401  (fixture)
from tests.core.training.data import TINY_SHARED, overrides_args
from tests.core.transformer.conftest import tiny_model  # noqa: F401  (fixture)

UNMERGED = ["--components.transformer.model.adapter.merge_adapters", "false"]


@pytest.fixture(scope="module")
def lora_config(tiny_model, tmp_path_factory):  # noqa: F811
    config = tmp_path_factory.mktemp("lora") / "config.cfg"
    made = run_cli(
        "init", "config", str(config), "--pipeline", "tagger", "--transformer", str(tiny_model("bert")),
        "--adapter", "lora",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    return config


def data_args(corpora) -> list:
    return overrides_args({"paths.train": str(corpora.tiny_train), "paths.dev": str(corpora.tiny_dev)})


def train_cmd(config, out, corpora, *extra) -> list:
    return [
        sys.executable, "-m", "spacy_transfer", "train", str(config), "--output", str(out), *data_args(corpora),
        "--training.eval_frequency", "2", "--training.max_steps", "8", *UNMERGED, *extra,
    ]  # fmt: skip


def adapters_of(pipeline) -> dict:
    return load_file(
        str(pipeline / "transformer" / "model" / "hf0" / "adapter" / "adapter_model.safetensors")
    )


def test_a_killed_two_process_lora_run_resumes_to_the_same_adapters(
    lora_config,
    training_corpora,
    tiny_model,
    tmp_path,  # noqa: F811
):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    full = subprocess.run(
        train_cmd(lora_config, tmp_path / "full", training_corpora, "--nproc", "2"),
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert full.returncode == 0, full.stdout + full.stderr
    proc = subprocess.Popen(
        train_cmd(lora_config, tmp_path / "cut", training_corpora, "--nproc", "2"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )  # fmt: skip
    metrics = tmp_path / "cut" / "metrics.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # kill once a checkpoint after step 0 is on disk
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed = subprocess.run(
        train_cmd(lora_config, tmp_path / "cut", training_corpora, "--nproc", "2", "--resume"),
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Resuming" in resumed.stdout
    a, b = adapters_of(tmp_path / "full" / "model-last"), adapters_of(tmp_path / "cut" / "model-last")
    assert a.keys() == b.keys() and a
    for key in a:
        numpy.testing.assert_allclose(a[key], b[key], atol=1e-6, err_msg=key)
    # The encoder's own weights are the pretrained ones, bit for bit.
    base = load_file(
        str(tmp_path / "full" / "model-last" / "transformer" / "model" / "hf0" / "model.safetensors")
    )
    pretrained = load_file(str(tiny_model("bert") / "model.safetensors"))
    assert all(numpy.array_equal(base[k], pretrained[k]) for k in pretrained)


def test_the_frozen_encoder_keeps_its_weights_and_the_merged_pipeline_loads_fresh(
    lora_config,
    training_corpora,
    tiny_model,
    tmp_path,  # noqa: F811
):
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "spacy_transfer", "train", str(lora_config), "--output", str(out),
         *data_args(training_corpora), "--training.max_steps", "4", "--training.eval_frequency", "2"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    merged = load_file(str(out / "model-last" / "transformer" / "model" / "hf0" / "model.safetensors"))
    checkpoint = out / "checkpoint" / "model" / "transformer" / "model" / "hf0"
    base = load_file(str(checkpoint / "model.safetensors"))  # checkpoints keep the adapters apart
    pretrained = load_file(str(tiny_model("bert") / "model.safetensors"))
    assert all(numpy.array_equal(base[k], pretrained[k]) for k in pretrained)
    assert (checkpoint / "adapter" / "adapter_model.safetensors").exists()
    query = "encoder.layer.1.attention.self.query.weight"
    assert not numpy.array_equal(merged[query], pretrained[query])  # the adapters are in it
    code = f"import spacy; nlp = spacy.load({str(out / 'model-last')!r}); print(len(nlp('A short test.')))"
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 0 and fresh.stdout.strip() == "4", fresh.stderr


def test_a_resume_after_the_adapter_settings_changed_is_refused(lora_config, training_corpora, tmp_path):
    out = tmp_path / "out"
    args = [
        "train",
        str(lora_config),
        "-o",
        str(out),
        *data_args(training_corpora),
        "--training.max_steps",
        "1",
    ]
    assert run_cli(*args).exit_code == 0
    changed = run_cli(*args, "--components.transformer.model.adapter.r", "16", "--resume")
    assert changed.exit_code == 1
    text = " ".join(changed.output.split())
    assert "no longer matches the checkpoint" in text and "components.transformer.model.adapter.r" in text
    assert "Traceback" not in changed.output


def test_an_adapter_on_a_frozen_transformer_is_refused_before_anything_is_written(
    lora_config, training_corpora, tmp_path
):
    out = tmp_path / "out"
    result = run_cli(
        "train", str(lora_config), "-o", str(out), *data_args(training_corpora),
        "--training.frozen_components", '["transformer"]', "--training.annotating_components", '["transformer"]',
    )  # fmt: skip
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "adapter is set on a transformer that is frozen as a whole" in text and "transformer" in text
    assert not (out / "model-best").exists() and not (out / "checkpoint").exists()


def test_freeze_layers_larger_than_the_encoder_is_refused(lora_config, training_corpora, tmp_path):
    result = run_cli(
        "train", str(lora_config), "-o", str(tmp_path / "out"), *data_args(training_corpora),
        "--components.transformer.model.freeze_layers", "9",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "freeze_layers is 9, but the encoder has 2 layers" in " ".join(result.output.split())
    assert not (tmp_path / "out" / "model-best").exists()


def test_a_lora_teacher_teaches_a_cnn_student(cli, lora_config, training_corpora, distill_setup, tmp_path):  # noqa: F811
    teacher = tmp_path / "teacher"
    made = cli(
        "train", str(lora_config), "-o", str(teacher), *data_args(training_corpora), *UNMERGED,
        "--training.max_steps", "4", "--training.eval_frequency", "2",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert (teacher / "model-best" / "transformer" / "model" / "hf0" / "adapter").exists()
    student = tmp_path / "student.cfg"
    assert cli("init", "config", str(student), "--pipeline", "tagger").exit_code == 0
    s = distill_setup
    tiny = overrides_args({k: v for k, v in TINY_SHARED.items() if "ner" not in k})
    result = cli(
        "distill", str(teacher / "model-best"), str(student), "--output", str(tmp_path / "out"),
        "--paths.raw_text", str(s.raw), "--paths.train", str(s.train), "--paths.dev", str(s.dev),
        "--training.max_steps", "4", "--training.eval_frequency", "2", *tiny,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert spacy.load(tmp_path / "out" / "model-best").pipe_names == ["tok2vec", "tagger"]


def test_layer_decay_and_gradual_unfreezing_resume_exactly(tiny_model, training_corpora, tmp_path):  # noqa: F811
    """layer_lr_decay and unfreeze_every with spaCy's warmup schedule: a run stopped at step 2 and
    resumed to step 4 ends with the weights of the run that went straight to step 4."""
    from tests.conftest import pipeline_params

    config = tmp_path / "config.cfg"
    made = run_cli(
        "init", "config", str(config), "--pipeline", "tagger", "--transformer", str(tiny_model("bert"))
    )
    assert made.exit_code == 0, made.output
    args = [
        *data_args(training_corpora), "--training.eval_frequency", "1",
        "--components.transformer.model.layer_lr_decay", "0.8", "--components.transformer.model.unfreeze_every", "1",
    ]  # fmt: skip
    assert (
        run_cli(
            "train", str(config), "-o", str(tmp_path / "full"), *args, "--training.max_steps", "4"
        ).exit_code
        == 0
    )
    assert (
        run_cli(
            "train", str(config), "-o", str(tmp_path / "split"), *args, "--training.max_steps", "2"
        ).exit_code
        == 0
    )
    resumed = run_cli(
        "train", str(config), "-o", str(tmp_path / "split"), *args, "--training.max_steps", "4", "--resume"
    )
    assert resumed.exit_code == 0, resumed.output
    a, b = (
        pipeline_params(tmp_path / "full" / "model-last"),
        pipeline_params(tmp_path / "split" / "model-last"),
    )
    assert a.keys() == b.keys() and any("/shim" in k for k in a)
    for key in a:
        assert numpy.allclose(a[key], b[key], atol=1e-6, rtol=0), key
