"""``distill`` as a recipe: annotate raw text with the teacher, train the student on it (and
on gold data) with ``train``'s recipe and the distillation update, then compare the two
pipelines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from thinc.api import Config

from ...errors import UserError
from ..recipe import Recipe, Reporter, RunOptions
from ..training import TrainRecipe
from ..validation import config_errors
from . import teacher as tch
from .annotate import Manifest, annotate_raw_text
from .objective import DistillUpdate
from .report import compare, dev_docs
from .strings import prune_strings

SILVER = "silver"
PRUNE_SAMPLE = 200  # dev docs the pruned pipelines must annotate as the full ones do


@dataclass
class DistillSettings:
    temperature: float = 1.0
    top_k: int = 5
    gold_fraction: float = 0.5
    batch_size: int = 64  # documents per teacher batch
    shard_size: int = 1000  # documents per cache shard
    max_docs: int = 0  # raw-text documents to annotate (0: all)
    soft_transitions: bool = True  # the parser's and ner's action distributions (else their parses only)

    def check(self) -> None:
        rows = []
        if self.temperature <= 0:
            rows.append(("--temperature", f"{self.temperature} (must be above 0)"))
        if self.top_k < 1:
            rows.append(("--top-k", f"{self.top_k} (must be 1 or more)"))
        if not 0.0 <= self.gold_fraction < 1.0:
            rows.append(("--gold-fraction", f"{self.gold_fraction} (must be at least 0 and below 1)"))
        if self.batch_size < 1 or self.shard_size < 1 or self.max_docs < 0:
            rows.append(("--batch-size/--shard-size/--max-docs", "must be positive (--max-docs 0: all)"))
        if rows:
            raise UserError("Invalid distillation settings", rows=rows, header=("option", "value"))


class DistillRecipe(Recipe[Dict[str, Any]]):
    """The whole command as a recipe: ``setup`` annotates the raw text with the teacher (a
    cache, resumable) and sets up the student's training with :class:`.objective.DistillUpdate`
    as the loop's update; ``restore`` and ``run`` are the training's, then the saved student's
    strings are pruned and it is compared with the teacher. ``run`` returns what
    ``OUTPUT/distill.json`` holds."""

    def __init__(
        self,
        teacher_path: Path,
        student_config: Config,
        output: Path,
        raw_text: Optional[str],
        options: Optional[RunOptions] = None,
        *,
        settings: DistillSettings = DistillSettings(),
        resume: bool = False,
    ) -> None:
        super().__init__(options)
        self.teacher_path = Path(teacher_path)
        self.student_config = student_config
        self.output = Path(output)
        self.raw_text = raw_text
        self.settings = settings
        self.resume = resume
        self.training: Optional[TrainRecipe] = None

    def setup(self) -> None:
        settings = self.settings
        settings.check()
        if not self.raw_text:
            raise UserError(
                "No raw text for the teacher to annotate",
                hint="Pass --paths.raw_text FILE (JSONL, .txt or .spacy, .gz too).",
            )
        with config_errors(self.where):
            config = Config(self.student_config).interpolate()
        _check_data(config)  # before the teacher spends time on the raw text
        self.teacher = tch.load_teacher(self.teacher_path, self.options.use_gpu)
        components = tch.check_student(self.teacher, config, self.where)
        self.manifest = annotate_raw_text(
            self.teacher,
            Path(self.raw_text),
            self.output / SILVER,
            fingerprint=tch.fingerprint(self.teacher_path),
            components=list(components),
            k=settings.top_k,
            batch_size=settings.batch_size,
            shard_size=settings.shard_size,
            max_docs=settings.max_docs,
            transitions=settings.soft_transitions,
            printer=self.reporter,
        )
        gold = (config.get("paths") or {}).get("train")
        labels = tch.write_label_files(self.teacher, list(components), self.output / SILVER / "labels", gold)
        self.config, dev_from_silver = student_training_config(
            config, self.output / SILVER, self.manifest, labels, settings
        )
        _say_data(self.reporter, self.manifest, settings, dev_from_silver)
        update = DistillUpdate(
            self.manifest.labels, settings.temperature, top_k=settings.top_k, components=list(components)
        )
        self.training = TrainRecipe(
            self.config, self.output, self.options, resume=self.resume, update=update, reporter=self.reporter
        )
        self.training.setup()

    def restore(self) -> None:
        assert self.training is not None
        self.training.restore()

    def run(self) -> Dict[str, Any]:
        assert self.training is not None
        result = self.training.run()
        if result.interrupted is not None:
            return {"interrupted": result.interrupted}
        _prune_strings(self.output, self.config, self.reporter)
        used = self.manifest.first(self.output / SILVER, self.settings.max_docs)
        return compare(
            self.teacher,
            self.teacher_path,
            self.output,
            self.config,
            used,
            self.settings.__dict__,
            self.reporter,
        )

    def close(self) -> None:
        if self.training is not None:
            self.training.close()
        super().close()


def distill(
    teacher_path: Path,
    student_config: Config,
    output: Path,
    raw_text: Optional[str],
    *,
    settings: DistillSettings = DistillSettings(),
    resume: bool = False,
    **options: Any,
) -> Dict[str, Any]:
    """The whole command (:class:`DistillRecipe`); returns what ``OUTPUT/distill.json`` holds.
    ``options``: :class:`~spacy_transfer.core.recipe.RunOptions` (``use_gpu``, ``where``, ``stdout``, ...)."""
    opts = RunOptions.given(**options)
    recipe = DistillRecipe(
        teacher_path, student_config, output, raw_text, opts, settings=settings, resume=resume
    )
    return recipe.execute()


def _prune_strings(output: Path, config: Config, printer: Reporter) -> None:
    """Drop the raw text's words from the saved pipelines' string stores (see :mod:`.strings`)."""
    import spacy

    texts = [doc.text for doc in dev_docs(config, spacy.blank("xx"))[:PRUNE_SAMPLE]]
    for name in ("model-best", "model-last"):
        problem = prune_strings(output / name, texts)
        if problem:
            printer.warn(f"{name} keeps all its strings: {problem}")


def _say_data(
    printer: Reporter, manifest: Manifest, settings: DistillSettings, dev_from_silver: bool
) -> None:
    if 0 < settings.max_docs < manifest.docs_done:
        printer.info(
            f"The cache holds {manifest.docs_done:,} docs; the student trains on the first {settings.max_docs:,} (--max-docs)"
        )
    if dev_from_silver:
        printer.info(
            f"No --paths.dev: the first shard ({manifest.shards[0]['docs']} docs) is the dev set (agreement with the teacher)"
        )


def _check_data(config: Config) -> None:
    from ..corpora import docbin_problem

    paths = config.get("paths") or {}
    for setting, path in (("--paths.train", paths.get("train")), ("--paths.dev", paths.get("dev"))):
        problem = docbin_problem(str(path)) if path else None
        if problem:
            raise UserError(
                f"{setting} cannot be read: {problem}",
                hint="Give a .spacy file (make it with 'spacy-transfer convert').",
            )


def student_training_config(
    config: Config, silver: Path, manifest: Manifest, labels: Dict[str, Path], settings: DistillSettings
) -> "tuple[Config, bool]":
    """The student's config with the distillation corpus for training, the teacher's labels
    for initialization and a dev set (gold, or else the first silver shard)."""
    config = Config(config).copy()
    paths = config.setdefault("paths", {})
    gold, dev = paths.get("train"), paths.get("dev")
    if "corpora" not in config or "training" not in config:
        raise UserError(
            "The student config is partial (no [corpora] / [training])",
            hint="Make it with 'spacy-transfer init config' or complete it with 'init fill-config'.",
        )
    from_silver = not dev
    if from_silver and len(manifest.shards) < 2:
        raise UserError(
            "Without --paths.dev the first shard of the annotations is the dev set, and there is only one",
            hint=f"Pass --paths.dev DEV.spacy, or more raw text (or a smaller --shard-size than {settings.shard_size}).",
        )
    exclude: List[str] = [manifest.shards[0]["file"]] if from_silver else []
    config["corpora"]["train"] = {
        "@readers": "spacy-transfer.DistillCorpus.v1",
        "silver": str(silver),
        "gold": str(gold) if gold else None,
        "gold_fraction": settings.gold_fraction,
        "exclude": exclude,
    }
    if settings.max_docs:  # in the config, so resuming with another --max-docs is refused
        config["corpora"]["train"]["limit"] = settings.max_docs
    if from_silver:
        dev_path = str(silver / manifest.shards[0]["file"])
        paths["dev"] = dev_path
        config["corpora"]["dev"] = {"@readers": "spacy.Corpus.v1", "path": dev_path, "max_length": 0}
    init = config.setdefault("initialize", {}).setdefault("components", {})
    for name, path in labels.items():
        init.setdefault(name, {})["labels"] = {"@readers": "spacy.read_labels.v1", "path": str(path)}
    return config, from_silver
