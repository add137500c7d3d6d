"""spacy-transfer and the real spacy-transformers 2.0 installed in one environment, in
either order, as real wheels in a fresh venv: no file of one is written by the other,
pipelines saved by either load with ``spacy.load``, ``spacy-transfer train`` and ``python
-m spacy train`` both run, who serves the shared names is said once, and uninstalling
either leaves the other working."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Dict

import pytest
import spacy

from tests.conftest import run_cli
from tests.core.training.data import overrides_args
from tests.core.transformer.conftest import tiny_model  # noqa: F401  (fixture)

from . import envs

pytestmark = pytest.mark.slow
ST20_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "st20" / "bert"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    st20 = envs.st20_wheel()
    if st20 is None:
        pytest.skip("no spacy-transformers 2.x wheel for this Python in ../shared/anchors")
    return {"ours": envs.build_our_wheel(tmp_path_factory.mktemp("wheel")), "st20": st20}


@pytest.fixture(scope="module")
def ours(tiny_model, training_corpora, tmp_path_factory):  # noqa: F811
    """A pipeline trained by spacy-transfer here (factory transfer_transformer), its config,
    its training overrides and the tags it gives."""
    out = tmp_path_factory.mktemp("ours")
    config = out / "config.cfg"
    assert (
        run_cli(
            "init", "config", str(config), "--pipeline", "tagger", "--transformer", str(tiny_model("bert"))
        ).exit_code
        == 0
    )
    args = overrides_args(
        {"paths.train": str(training_corpora.tiny_train), "paths.dev": str(training_corpora.tiny_dev)}
    )
    trained = run_cli("train", str(config), "-o", str(out / "trained"), *args, "--training.max_steps", "2")
    assert trained.exit_code == 0, trained.output
    model = out / "trained" / "model-last"
    texts = ["Apple is buying a startup in London.", "She said hello to New York and left quickly."]
    (model / "probe_texts.json").write_text(json.dumps({"texts": texts}))
    tags = [[t.tag_ for t in doc] for doc in spacy.load(model).pipe(texts)]
    return {"model": model, "config": config, "args": args, "tags": tags}


def digest(files) -> Dict[str, str]:
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files if f.is_file()}


def check_st20_fixture(report: dict, served_by: str) -> None:
    want = json.loads((ST20_FIXTURE / "outputs.json").read_text())
    got = report["pipelines"][str(ST20_FIXTURE)]
    assert got["tags"] == [d["tags"] for d in want["docs"]]
    assert got["ents"] == [[list(e) for e in d["ents"]] for d in want["docs"]]
    in_ours = "/site-packages/spacy_transfer/" in got["component_file"]
    assert in_ours == (served_by == "ours"), got["component_file"]


def check_ours(report: dict, ours: dict) -> None:
    got = report["pipelines"][str(ours["model"])]
    assert got["tags"] == ours["tags"]
    assert got["component_module"] == "spacy_transfer.core.transformer.component"


def check_training(python: Path, ours: dict, tmp: Path) -> None:
    bin_dir = python.parent
    for name, cmd in (
        ("spacy-transfer", [str(bin_dir / "spacy-transfer"), "train"]),
        ("spacy", [str(python), "-m", "spacy", "train"]),
    ):
        proc = envs.run(
            Path(cmd[0]),
            [
                *cmd[1:],
                str(ours["config"]),
                "--output",
                str(tmp / name),
                *ours["args"],
                "--training.max_steps",
                "2",
            ],
        )
        assert proc.returncode == 0, f"{name} train failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        assert (tmp / name / "model-last" / "config.cfg").exists()


def test_spacy_transformers_first_then_spacy_transfer(wheels, ours, tmp_path):
    python = envs.clone_venv(tmp_path / "venv")
    envs.install(python, wheels["st20"])
    theirs_files = digest(envs.record(python, "spacy-transformers"))
    envs.install(python, wheels["ours"])
    our_files = digest(envs.record(python, "spacy-transfer"))
    assert not set(theirs_files) & set(our_files), "the two distributions share a file"
    assert digest(map(Path, theirs_files)) == theirs_files, (
        "installing spacy-transfer changed a file of theirs"
    )

    # The default: the real spacy-transformers serves its names; ours are ours; said once.
    report = envs.probe(python, [ST20_FIXTURE, ours["model"]])
    check_st20_fixture(report, served_by="theirs")
    check_ours(report, ours)
    assert "/site-packages/spacy_transformers/" in report["spacy_transformers"]
    notices = [w for w in report["warnings"] if "serves the 'transformer' factory" in w]
    assert (
        len(notices) == 1 and "spacy-transformers 2.0" in notices[0] and "transfer_transformer" in notices[0]
    )

    # The switch: spacy-transfer serves them, the real package stays on disk untouched.
    report = envs.probe(
        python, [ST20_FIXTURE, ours["model"]], env={"SPACY_TRANSFORMERS_IMPL": "spacy-transfer"}
    )
    check_st20_fixture(report, served_by="ours")
    check_ours(report, ours)
    assert "/spacy_transfer/compat/spacy_transformers/" in report["spacy_transformers"]
    assert not [w for w in report["warnings"] if "serves" in w], "an explicit choice is not announced"

    check_training(python, ours, tmp_path)

    # Uninstalling spacy-transfer leaves spacy-transformers whole and working.
    envs.pip(python, "uninstall", "-y", "spacy-transfer")
    assert digest(map(Path, theirs_files)) == theirs_files
    check_st20_fixture(envs.probe(python, [ST20_FIXTURE]), served_by="theirs")


def test_spacy_transfer_first_then_spacy_transformers(wheels, ours, tmp_path):
    python = envs.clone_venv(tmp_path / "venv")
    envs.install(python, wheels["ours"])
    our_files = digest(envs.record(python, "spacy-transfer"))
    # Alone, spacy-transfer serves spacy-transformers' names and says nothing about it.
    report = envs.probe(python, [ST20_FIXTURE, ours["model"]])
    check_st20_fixture(report, served_by="ours")
    check_ours(report, ours)
    assert not [w for w in report["warnings"] if "serves" in w]

    envs.install(python, wheels["st20"])
    theirs_files = digest(envs.record(python, "spacy-transformers"))
    assert not set(theirs_files) & set(our_files)
    assert digest(map(Path, our_files)) == our_files, "installing spacy-transformers changed a file of ours"
    report = envs.probe(python, [ST20_FIXTURE, ours["model"]])
    check_st20_fixture(report, served_by="theirs")
    check_ours(report, ours)

    # Uninstalling spacy-transformers: spacy-transfer serves its names again, files intact.
    envs.pip(python, "uninstall", "-y", "spacy-transformers")
    assert digest(map(Path, our_files)) == our_files
    report = envs.probe(python, [ST20_FIXTURE, ours["model"]])
    check_st20_fixture(report, served_by="ours")
    check_ours(report, ours)
