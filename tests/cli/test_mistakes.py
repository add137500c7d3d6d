"""A catalogue of realistic mistakes, one per row, across every command.

Each must exit non-zero with ``✘`` and no traceback (without ``--verbose``), name the
setting or file that is wrong, and leave every existing file alone: the whole workspace
(configs, corpora, a finished training run with its checkpoint, a finished pretraining
run, a pipeline) is hashed before and after each row.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

import pytest

from tests.conftest import DATA, run_cli
from tests.core.pretraining.conftest import TINY_CONFIG, wikitext_paragraphs
from tests.core.training.data import SNIPPETS, TINY_SHARED, filled_snippet


@dataclass
class Mistake:
    id: str
    args: Callable[[Path], List[str]]  # the command line, given the workspace
    names: List[str]  # what the message must mention: the setting, file or value at fault
    stdin: Optional[str] = None
    marks: list = field(default_factory=list)


def _edit(src: str, old: str, new: str) -> str:
    assert old in src, old
    return src.replace(old, new, 1)


@pytest.fixture(scope="module")
def ws(tmp_path_factory, training_corpora) -> Path:
    """Everything the mistakes are made with, and finished outputs that must survive them."""
    from spacy_transfer.core.corpora import read_conllu, write_docbin

    root = tmp_path_factory.mktemp("mistakes")
    base = filled_snippet("shared.cfg", root / "base.cfg").read_text(encoding="utf8")
    from thinc.api import Config

    config = Config().from_str(
        base,
        overrides={
            **TINY_SHARED,
            "paths.train": str(training_corpora.uner_train),
            "paths.dev": str(training_corpora.uner_dev),
            "training.max_steps": 4,
            "training.eval_frequency": 2,
        },
        interpolate=False,
    )
    good = config.to_str()
    (root / "config.cfg").write_text(good, encoding="utf8")
    (root / "base.cfg").unlink()
    result = run_cli("train", str(root / "config.cfg"), "-o", str(root / "run"))
    assert result.exit_code == 0, result.output
    # configs with one mistake each
    (root / "partial.cfg").write_text((SNIPPETS / "shared.cfg").read_text(encoding="utf8"), encoding="utf8")
    (root / "syntax.cfg").write_text("lang = en\npipeline = tagger\n", encoding="utf8")
    (root / "arch_typo.cfg").write_text(
        _edit(good, '"spacy.Tok2Vec.v2"', '"spacy.Tok2Vec.v9"'), encoding="utf8"
    )
    (root / "interp.cfg").write_text(_edit(good, "${paths.train}", "${paths.trian}"), encoding="utf8")
    (root / "wrong_type.cfg").write_text(_edit(good, "dropout = 0.1", 'dropout = "high"'), encoding="utf8")
    (root / "extra_key.cfg").write_text(
        _edit(good, "[training]\n", "[training]\nmax_stepz = 5\n"), encoding="utf8"
    )
    (root / "corpus_typo.cfg").write_text(
        _edit(good, 'train_corpus = "corpora.train"', 'train_corpus = "corpora.trian"'), encoding="utf8"
    )
    (root / "no_block.cfg").write_text(
        _edit(good, 'pipeline = ["tok2vec", "ner"]', 'pipeline = ["tok2vec", "ner", "tagger"]'),
        encoding="utf8",
    )
    (root / "no_factory.cfg").write_text(_edit(good, 'factory = "ner"\n', ""), encoding="utf8")
    changed = Config().from_str(
        good, overrides={"components.tok2vec.model.encode.depth": 2}, interpolate=False
    )
    (root / "changed.cfg").write_text(changed.to_str(), encoding="utf8")
    (root / "vectors_features.cfg").write_text(
        _edit(good, "include_static_vectors = false", "include_static_vectors = true"), encoding="utf8"
    )
    # code files
    (root / "broken.py").write_text("import spacy\ndef f(:\n    pass\n", encoding="utf8")
    # data files
    write_docbin(
        read_conllu(DATA / "ud_english-ewt" / "en_ewt-ud-dev.conllu", n_sents=5, limit=10), root / "ud.spacy"
    )
    shutil.copy(training_corpora.uner_dev, root / "dev.spacy")
    shutil.copy(training_corpora.empty, root / "empty.spacy")
    filled_snippet("transformer_listener.cfg", root / "trf.cfg")
    (root / "ud.conllu").write_text(
        "".join(
            (DATA / "ud_english-ewt" / "en_ewt-ud-dev.conllu").read_text(encoding="utf8").split("\n\n")[:5]
        )
        + "\n\n",
        encoding="utf8",
    )
    (root / "garbage.spacy").write_bytes(bytes(range(256)) * 40)
    (root / "garbage.bin").write_bytes(bytes(range(255, -1, -1)) * 40)
    (root / "no_spacy_files").mkdir()
    (root / "no_spacy_files" / "notes.txt").write_text("not a corpus\n", encoding="utf8")
    (root / "vectors.txt").write_text(
        "3 4\nthe 0.1 0.2 0.3 0.4\ncat 0.5 0.6 0.7 0.8\ndog 0.9 1.0 1.1 1.2\n", encoding="utf8"
    )
    (root / "ragged_vectors.txt").write_text(
        "3 4\nthe 0.1 0.2 0.3 0.4\ncat 0.5 0.6\ndog 0.9 1.0 1.1 1.2\n", encoding="utf8"
    )
    # pretraining
    (root / "pretrain.cfg").write_text(TINY_CONFIG, encoding="utf8")
    no_block = TINY_CONFIG[: TINY_CONFIG.index("[pretraining]")]
    (root / "pretrain_no_block.cfg").write_text(no_block, encoding="utf8")
    vectors_objective = (
        '@architectures = "spacy.PretrainVectors.v1"\nmaxout_pieces = 2\nhidden_size = 32\nloss = "cosine"\n'
    )
    start, end = TINY_CONFIG.index("[pretraining.objective]"), TINY_CONFIG.index("[pretraining.optimizer]")
    (root / "pretrain_vectors.cfg").write_text(
        TINY_CONFIG[:start] + "[pretraining.objective]\n" + vectors_objective + "\n" + TINY_CONFIG[end:],
        encoding="utf8",
    )
    (root / "raw.jsonl").write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in wikitext_paragraphs(20)), encoding="utf8"
    )
    (root / "empty.jsonl").write_text("", encoding="utf8")
    (root / "not_json.jsonl").write_text("{this is not json\n", encoding="utf8")
    result = run_cli(
        "pretrain",
        str(root / "pretrain.cfg"),
        str(root / "pre"),
        "--paths.raw_text",
        str(root / "raw.jsonl"),
        "--pretraining.max_epochs",
        "1",
    )
    assert result.exit_code == 0, result.output
    return root


def train(*extra: str) -> Callable[[Path], List[str]]:
    return lambda ws: [
        "train",
        str(ws / "config.cfg"),
        "-o",
        str(ws / "run"),
        *[e.format(ws=ws) for e in extra],
    ]


def train_with(config: str, *extra: str) -> Callable[[Path], List[str]]:
    return lambda ws: ["train", str(ws / config), "-o", str(ws / "run"), *[e.format(ws=ws) for e in extra]]


def cmd(*parts: str) -> Callable[[Path], List[str]]:
    return lambda ws: [p.format(ws=ws) for p in parts]


PRETRAIN = ("pretrain", "{ws}/pretrain.cfg", "{ws}/pre", "--paths.raw_text", "{ws}/raw.jsonl")

MISTAKES = [
    # --- init config / fill-config
    Mistake("init-config-output-exists", cmd("init", "config", "{ws}/config.cfg"), ["config.cfg", "--force"]),
    Mistake(
        "init-config-unknown-language",
        cmd("init", "config", "{ws}/new.cfg", "--lang", "klingon"),
        ["klingon"],
    ),
    Mistake(
        "init-config-unknown-component",
        cmd("init", "config", "{ws}/new.cfg", "--pipeline", "tagger,nre"),
        ["nre"],
    ),
    Mistake(
        "init-config-unknown-optimize",
        cmd("init", "config", "{ws}/new.cfg", "--optimize", "fastest"),
        ["fastest"],
    ),
    Mistake(
        "fill-config-missing-file",
        cmd("init", "fill-config", "{ws}/missing.cfg", "{ws}/new.cfg"),
        ["missing.cfg"],
    ),
    Mistake(
        "fill-config-pipeline-folder-as-config",
        cmd("init", "fill-config", "{ws}/run/model-last", "{ws}/new.cfg"),
        ["model-last", "config.cfg"],
    ),
    Mistake(
        "fill-config-ini-syntax",
        cmd("init", "fill-config", "{ws}/syntax.cfg", "{ws}/new.cfg"),
        ["syntax.cfg"],
    ),
    Mistake(
        "fill-config-architecture-typo",
        cmd("init", "fill-config", "{ws}/arch_typo.cfg", "{ws}/new.cfg"),
        ["spacy.Tok2Vec.v9"],
    ),
    Mistake(
        "fill-config-component-without-factory",
        cmd("init", "fill-config", "{ws}/no_factory.cfg", "{ws}/new.cfg"),
        ["ner", "factory"],
    ),
    Mistake(
        "fill-config-pipeline-name-without-block",
        cmd("init", "fill-config", "{ws}/no_block.cfg", "{ws}/new.cfg"),
        ["tagger"],
    ),
    Mistake(
        "fill-config-stdin-empty",
        cmd("init", "fill-config", "-", "{ws}/new.cfg"),
        ["standard input"],
        stdin="",
    ),
    # --- train: configs
    Mistake(
        "train-partial-config-no-training-section", train_with("partial.cfg"), ["[training]", "fill-config"]
    ),
    Mistake(
        "train-config-is-a-pipeline-folder",
        cmd("train", "{ws}/run/model-last", "-o", "{ws}/run"),
        ["model-last", "config.cfg"],
    ),
    Mistake("train-config-not-found", train_with("missing.cfg"), ["missing.cfg"]),
    Mistake("train-broken-interpolation", train_with("interp.cfg"), ["paths.trian"]),
    Mistake("train-wrong-type-in-file", train_with("wrong_type.cfg"), ["dropout"]),
    Mistake("train-unknown-key-in-training", train_with("extra_key.cfg"), ["max_stepz"]),
    Mistake("train-corpus-reference-typo", train_with("corpus_typo.cfg"), ["corpora.trian"]),
    Mistake("train-pipeline-name-without-block", train_with("no_block.cfg"), ["tagger"]),
    Mistake("train-architecture-typo", train_with("arch_typo.cfg"), ["spacy.Tok2Vec.v9"]),
    Mistake("train-unknown-factory", train("--components.ner.factory", "nre"), ["nre"]),
    # --- train: overrides
    Mistake("train-override-wrong-type", train("--training.max_steps", "lots"), ["max_steps"]),
    Mistake("train-override-section-typo", train("--trainig.max_steps", "5"), ["trainig"]),
    Mistake("train-override-without-value", train("--training.max_steps"), ["training.max_steps"]),
    # --- train: files and data
    Mistake(
        "train-corpus-missing", train("--paths.train", "{ws}/missing.spacy"), ["missing.spacy", "paths.train"]
    ),
    Mistake("train-corpus-is-conllu", train("--paths.train", "{ws}/ud.conllu"), ["ud.conllu", "convert"]),
    Mistake(
        "train-corpus-folder-without-spacy-files",
        train("--paths.train", "{ws}/no_spacy_files"),
        ["no_spacy_files"],
    ),
    Mistake("train-corpus-corrupt", train("--paths.train", "{ws}/garbage.spacy"), ["garbage.spacy"]),
    Mistake("train-empty-dev-corpus", train("--paths.dev", "{ws}/empty.spacy"), ["dev", "no documents"]),
    Mistake("train-labels-missing-from-data", train("--paths.train", "{ws}/ud.spacy"), ["ner"]),
    Mistake(
        "train-vectors-folder-missing",
        train_with("vectors_features.cfg", "--paths.vectors", "{ws}/no-such-vectors"),
        ["no-such-vectors"],
    ),
    Mistake(
        "train-vectors-text-file-not-pipeline",
        train_with("vectors_features.cfg", "--paths.vectors", "{ws}/vectors.txt"),
        ["vectors.txt", "init vectors"],
    ),
    Mistake(
        "train-init-tok2vec-missing",
        train("--paths.init_tok2vec", "{ws}/missing-model.bin"),
        ["missing-model.bin"],
    ),
    Mistake("train-code-file-missing", train("--code", "{ws}/missing.py"), ["missing.py"]),
    Mistake("train-code-file-broken", train("--code", "{ws}/broken.py"), ["broken.py"]),
    # --- train: listeners and components
    Mistake(
        "train-listener-width-mismatch",
        train("--components.ner.model.tok2vec.width", "64"),
        ["width", "64", "32"],
    ),
    Mistake("train-listener-without-upstream", train("--nlp.pipeline", '["ner"]'), ["tok2vec", "ner"]),
    Mistake(
        "train-frozen-upstream-not-annotating",
        train("--training.frozen_components", '["tok2vec"]'),
        ["tok2vec", "annotating_components"],
    ),
    Mistake(
        "train-frozen-component-not-in-pipeline",
        train("--training.frozen_components", '["tagger"]'),
        ["tagger"],
    ),
    Mistake(
        "train-transformer-local-folder-missing",
        lambda ws: [
            "train",
            str(ws / "trf.cfg"),
            "-o",
            str(ws / "run"),
            "--components.transformer.model.name",
            str(ws / "models" / "my-bert"),
            "--paths.train",
            str(ws / "dev.spacy"),
            "--paths.dev",
            str(ws / "dev.spacy"),
        ],
        ["my-bert", "does not exist"],
    ),
    # --- train: resume
    Mistake("train-resume-changed-config", train_with("changed.cfg", "--resume"), ["resume", "depth"]),
    Mistake(
        "train-resume-without-checkpoint",
        lambda ws: ["train", str(ws / "config.cfg"), "-o", str(ws / "pre"), "--resume"],
        ["checkpoint"],
    ),
    Mistake(
        "train-resume-corrupt-checkpoint",
        lambda ws: ["train", str(ws / "config.cfg"), "-o", str(ws / "corrupt_run"), "--resume"],
        ["checkpoint"],
    ),
    Mistake("train-gpu-without-gpu", train("--gpu-id", "0"), ["GPU", "--gpu-id"]),
    # --- evaluate
    Mistake("evaluate-model-missing", cmd("evaluate", "{ws}/no-model", "{ws}/dev.spacy"), ["no-model"]),
    Mistake(
        "evaluate-config-where-pipeline-expected",
        cmd("evaluate", "{ws}/config.cfg", "{ws}/dev.spacy"),
        ["config.cfg"],
    ),
    Mistake(
        "evaluate-data-missing",
        cmd("evaluate", "{ws}/run/model-last", "{ws}/missing.spacy"),
        ["missing.spacy"],
    ),
    Mistake(
        "evaluate-data-is-conllu",
        cmd("evaluate", "{ws}/run/model-last", "{ws}/ud.conllu"),
        ["ud.conllu", "convert"],
    ),
    Mistake(
        "evaluate-gpu-without-gpu",
        cmd("evaluate", "{ws}/run/model-last", "{ws}/dev.spacy", "--gpu-id", "0"),
        ["GPU", "--gpu-id"],
    ),
    # --- init vectors
    Mistake(
        "vectors-file-missing",
        cmd("init", "vectors", "en", "{ws}/missing.vec", "{ws}/vec_out"),
        ["missing.vec"],
    ),
    Mistake(
        "vectors-binary-where-text-expected",
        cmd("init", "vectors", "en", "{ws}/garbage.bin", "{ws}/vec_out", "--format", "text"),
        ["garbage.bin"],
    ),
    Mistake(
        "vectors-ragged-rows",
        cmd("init", "vectors", "en", "{ws}/ragged_vectors.txt", "{ws}/vec_out"),
        ["ragged_vectors.txt", "line"],
    ),
    Mistake(
        "vectors-unknown-language",
        cmd("init", "vectors", "klingon", "{ws}/vectors.txt", "{ws}/vec_out"),
        ["klingon"],
    ),
    Mistake(
        "vectors-output-is-a-file",
        cmd("init", "vectors", "en", "{ws}/vectors.txt", "{ws}/config.cfg"),
        ["config.cfg"],
    ),
    # --- pretrain
    Mistake("pretrain-no-raw-text", cmd("pretrain", "{ws}/pretrain.cfg", "{ws}/pre"), ["raw_text"]),
    Mistake("pretrain-raw-text-empty", cmd(*PRETRAIN[:4], "{ws}/empty.jsonl"), ["empty.jsonl"]),
    Mistake("pretrain-raw-text-not-jsonl", cmd(*PRETRAIN[:4], "{ws}/not_json.jsonl"), ["not_json.jsonl"]),
    Mistake(
        "pretrain-no-pretraining-block",
        cmd("pretrain", "{ws}/pretrain_no_block.cfg", "{ws}/pre", "--paths.raw_text", "{ws}/raw.jsonl"),
        ["[pretraining]", "--pretraining"],
    ),
    Mistake(
        "pretrain-vectors-objective-without-vectors",
        cmd("pretrain", "{ws}/pretrain_vectors.cfg", "{ws}/pre", "--paths.raw_text", "{ws}/raw.jsonl"),
        ["vectors"],
    ),
    Mistake(
        "pretrain-resume-path-missing",
        cmd(*PRETRAIN, "--resume-path", "{ws}/pre/model7.bin"),
        ["model7.bin", "not found"],
    ),
    Mistake(
        "pretrain-resume-path-corrupt", cmd(*PRETRAIN, "--resume-path", "{ws}/garbage.bin"), ["garbage.bin"]
    ),
    Mistake(
        "pretrain-resume-state-damaged",
        cmd(
            "pretrain",
            "{ws}/pretrain.cfg",
            "{ws}/pre_damaged",
            "--paths.raw_text",
            "{ws}/raw.jsonl",
            "--resume-path",
            "{ws}/pre_damaged/model-last.bin",
        ),
        ["model-last.state.safetensors"],
    ),
    Mistake("pretrain-component-typo", cmd(*PRETRAIN, "--pretraining.component", "tok2vecc"), ["tok2vecc"]),
    # --- convert / migrate
    Mistake(
        "convert-input-missing", cmd("convert", "{ws}/missing.conllu", "{ws}/out.spacy"), ["missing.conllu"]
    ),
    Mistake(
        "convert-unknown-converter",
        cmd("convert", "{ws}/ud.conllu", "{ws}/out.spacy", "--converter", "xml"),
        ["xml", "conllu"],
    ),
    Mistake("convert-output-exists-as-folder", cmd("convert", "{ws}/ud.conllu", "{ws}/run"), ["run"]),
    Mistake(
        "migrate-not-a-pipeline", cmd("migrate", "{ws}/no_spacy_files", "{ws}/migrated"), ["no_spacy_files"]
    ),
    Mistake("migrate-output-exists", cmd("migrate", "{ws}/run/model-last", "{ws}/pre"), ["pre", "--force"]),
]


def snapshot(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def ws_ready(ws) -> Path:
    """The workspace plus a run whose checkpoint was damaged (for the corrupt-resume row)."""
    damaged = ws / "pre_damaged"
    if not damaged.exists():
        shutil.copytree(ws / "pre", damaged)
        state = damaged / "model-last.state.safetensors"
        state.write_bytes(state.read_bytes()[:200])
    corrupt = ws / "corrupt_run"
    if not corrupt.exists():
        shutil.copytree(ws / "run", corrupt)
        for f in sorted((corrupt / "checkpoint").rglob("*")):
            if f.is_file() and f.stat().st_size > 100:
                f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    return ws


def test_the_catalogue_is_large_and_its_rows_distinct():
    assert len(MISTAKES) >= 40
    assert len({m.id for m in MISTAKES}) == len(MISTAKES)
    commands = {
        m.args(Path("/ws"))[0] if m.args(Path("/ws"))[0] != "init" else " ".join(m.args(Path("/ws"))[:2])
        for m in MISTAKES
    }
    assert commands >= {
        "init config",
        "init fill-config",
        "init vectors",
        "train",
        "evaluate",
        "pretrain",
        "convert",
        "migrate",
    }


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id for m in MISTAKES])
def test_a_mistake_gets_a_clear_error_and_touches_nothing(mistake: Mistake, ws_ready):
    before = snapshot(ws_ready)
    result = run_cli(*mistake.args(ws_ready), input=mistake.stdin)
    text = " ".join(result.output.split())
    assert result.exit_code != 0, result.output
    assert "✘" in result.output, result.output
    assert "Traceback" not in result.output, result.output
    for name in mistake.names:
        assert name in text, f"the message does not mention {name!r}:\n{result.output}"
    assert snapshot(ws_ready) == before, "an existing file changed or a new one appeared"
