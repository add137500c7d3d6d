"""The pretraining loop: spaCy's ``[pretraining]`` semantics, lossless resume.

Per epoch the corpus is streamed, batched by ``[pretraining.batcher]`` and each batch
updates the layer and the objective's output layer. ``model{N}.bin`` (the layer's
averaged weights, spaCy's format) is written after epochs (every ``n_save_epoch``, and
the last), ``model{N}.temp.bin`` every ``n_save_every`` batches, ``model-last.bin`` at the
end (also when interrupted) unless ``skip_last``; each with a line in ``log.jsonl``. A
resume state (see :mod:`.state`, several times the weights' size) is kept beside the
newest ``keep_states`` epoch files and model-last (one state when model-last follows an
epoch's save directly); older files keep their weights only, as spaCy writes them.

Differences from spaCy's ``pretrain``, all deliberate: learning-rate schedules advance
once per batch (spaCy never steps them); masks come from a seeded generator that is saved;
on CPU, matrix multiplications use numpy's BLAS rather than blis (same math, faster on
most CPUs); raw-text readers stream ``.txt``/``.gz``/``.spacy`` as well as JSONL.

Data-parallel runs (``pretrain --nproc N`` / torchrun) run under a
:class:`~spacy_transfer.core.distributed.DistributedStrategy`, as ``train`` does:
every rank reads every batch, trains on its shard, the gradients are combined between
the backward pass and the optimizer step, and rank 0 alone prints and writes.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import srsly
from spacy.language import Language
from spacy.schemas import ConfigSchemaPretrain
from spacy.tokens import Doc
from spacy.util import dot_to_object, load_model_from_config, registry
from thinc.api import Config, Optimizer, fix_random_seed
from wasabi import Printer

from ...errors import UserError
from ..devices import setup_device
from ..distributed.strategy import LocalStrategy
from ..io import atomic_write_bytes, atomic_write_text
from ..state import (
    load_model_arrays,
    model_arrays,
    optimizer_arrays,
    optimizer_counters,
    restore_optimizer,
    restore_rng,
    rng_state,
    stable_keys,
)
from ..upstream import link_components
from ..validation import check_vectors_path, config_errors
from . import state as st
from .corpus import iter_docs, resolve_pretraining_corpus
from .objectives import build_tok2vec_objective
from .target import check_tok2vec_layer, find_target

ROW_SETTINGS = {"widths": (3, 10, 10, 6, 6), "aligns": ("r", "r", "r", "r", "r")}
MODEL_NAME = re.compile(r"model(\d+)\.bin$")
STATE_NAME = re.compile(r"model(\d+)(\.temp)?\.state")
LAST = "model-last"
RESUME_HINT = "Resume with the config the run started with (the output folder has a copy, config.cfg)."


@dataclass
class Position:
    """Where a run stands: ``batches_done`` is None once ``epoch`` is finished."""

    epoch: int = 0
    batches_done: Optional[int] = None

    def next_start(self) -> Tuple[int, int]:
        return (self.epoch + 1, 0) if self.batches_done is None else (self.epoch, self.batches_done)


@dataclass
class ProgressTracker:
    """spaCy's table: a row every ``frequency`` words with total loss, loss since the last row, words/s."""

    frequency: int = 10000
    loss: float = 0.0
    prev_loss: float = 0.0
    epoch_loss: float = 0.0
    nr_word: int = 0
    last_update: int = 0
    words_per_epoch: Dict[int, int] = field(default_factory=Counter)
    seconds: float = 0.0  # training time over the whole run, resumes included
    last_time: float = field(default_factory=time.perf_counter)
    run_start: float = field(default_factory=time.perf_counter)
    run_words: int = 0

    def update(self, epoch: int, loss: float, n_words: int) -> Optional[Tuple[Any, ...]]:
        self.loss += loss
        self.epoch_loss += loss
        self.words_per_epoch[epoch] += n_words
        self.nr_word += n_words
        self.run_words += n_words
        since = self.nr_word - self.last_update
        if since < self.frequency:
            return None
        now = time.perf_counter()
        wps = since / max(now - self.last_time, 1e-9)
        row = (
            epoch,
            self.nr_word,
            _smart_round(self.loss, 10),
            _smart_round(self.loss - self.prev_loss, 6),
            int(wps),
        )
        self.last_update, self.last_time, self.prev_loss = self.nr_word, now, self.loss
        return row

    @property
    def words_per_second(self) -> float:
        return self.run_words / max(time.perf_counter() - self.run_start, 1e-9)

    def to_json(self) -> Dict[str, Any]:
        return {
            "loss": self.loss,
            "prev_loss": self.prev_loss,
            "epoch_loss": self.epoch_loss,
            "nr_word": self.nr_word,
            "last_update": self.last_update,
            "words_per_epoch": {str(k): v for k, v in self.words_per_epoch.items()},
        }

    def load_json(self, data: Dict[str, Any]) -> None:
        for key in ("loss", "prev_loss", "epoch_loss", "nr_word", "last_update"):
            setattr(self, key, data[key])
        self.words_per_epoch = Counter({int(k): v for k, v in data["words_per_epoch"].items()})


def _smart_round(figure: float, width: int) -> str:
    """Integers for big numbers, as many decimals as fit (at most 4) for small ones."""
    n_decimal = min(width - (len(str(int(figure))) + 1), 4)
    return str(int(figure)) if n_decimal <= 1 else f"{figure:.{n_decimal}f}"


@dataclass
class PretrainResult:
    output_dir: Path
    saved: List[Path]
    words: int
    words_per_second: float
    start_epoch: int
    end_epoch: int


@dataclass
class PretrainSetup:
    """A loaded pipeline and everything resolved from its [pretraining] block."""

    nlp: Language
    settings: Dict[str, Any]
    corpus: Callable[[Language], Any]
    objective: Any  # Tok2VecObjective or MaskedLMObjective
    optimizer: Optimizer
    seed: Optional[int]


def setup_pretraining(config: Config, *, use_gpu: int = -1, where: str = "config") -> PretrainSetup:
    """Load the pipeline from ``config`` (not interpolated) and build the objective."""
    if not config.get("pretraining"):
        raise UserError(
            f"The config has no [pretraining] block ({where})",
            hint="Add it with 'spacy-transfer init fill-config CONFIG CONFIG_PRETRAIN --pretraining'.",
        )
    config = Config(config).copy()
    with config_errors(where):
        interpolated = config.interpolate()
    check_vectors_path(interpolated)
    training = interpolated.get("training", {})
    seed = training.get("seed", interpolated.get("system", {}).get("seed"))
    setup_device(use_gpu, training.get("gpu_allocator"), numpy_blas=True)
    if seed is not None:
        fix_random_seed(seed)
    # The weights are what we are about to create: never load old ones into the layer.
    config.setdefault("initialize", {})["init_tok2vec"] = None
    with config_errors(where):
        nlp = load_model_from_config(config, auto_fill=True, validate=True)
        filled = nlp.config.interpolate()
        P = registry.resolve(filled["pretraining"], schema=ConfigSchemaPretrain)
    try:
        corpus_section = dot_to_object(filled, P["corpus"])
    except KeyError:
        raise UserError(
            f"[pretraining] corpus = '{P['corpus']}' names no section of the config ({where})",
            hint="Point it at the raw-text reader, usually corpora.pretrain.",
        ) from None
    with config_errors(where):
        corpus = resolve_pretraining_corpus(corpus_section)
        with nlp.select_pipes(enable=[]):
            nlp.initialize()  # loads [initialize] vectors, which the vectors objective needs
    link_components(nlp)  # listeners know their upstream from here on
    target = find_target(nlp, P["component"], P["layer"])
    create = P["objective"]
    objective_name = str(filled["pretraining"]["objective"].get("@architectures", "objective"))
    from .masked_lm import MaskedLMObjectiveFactory  # the transformer path

    if isinstance(create, MaskedLMObjectiveFactory):
        objective: Any = create.build(nlp, target, dropout=P["dropout"], seed=seed)
    elif target.is_transformer:
        raise UserError(
            f"The pretraining target ({target.where}) is a transformer; {objective_name} only trains tok2vec layers",
            rows=[("[pretraining.objective]", objective_name)],
            hint='Use @architectures = "spacy-transfer.PretrainMaskedLM.v1" for transformers '
            "('spacy-transfer init fill-config --pretraining' writes it).",
        )
    else:
        check_tok2vec_layer(nlp, target)
        objective = build_tok2vec_objective(
            nlp, target, create, dropout=P["dropout"], seed=seed, objective_name=objective_name
        )
    return PretrainSetup(
        nlp=nlp, settings=P, corpus=corpus, objective=objective, optimizer=P["optimizer"], seed=seed
    )


def check_corpus_not_empty(setup: PretrainSetup) -> None:
    if next(iter_docs(setup.corpus, setup.nlp), None) is None:
        corpus = str(setup.settings["corpus"])
        try:
            path = dot_to_object(setup.nlp.config.interpolate(), corpus).get("path")
        except (KeyError, AttributeError):
            path = None
        raise UserError(
            "The pretraining corpus has no documents" + (f": {path}" if path else ""),
            rows=[("[pretraining] corpus", corpus)] + ([(f"[{corpus}] path", str(path))] if path else []),
            hint='Check the raw text file (one JSON object with a "text" key per line, or one text per line) '
            "and the reader's min_length/max_length/limit settings.",
        )


class Checkpointer:
    """Writes weights, resume states and log lines into the output folder."""

    def __init__(
        self,
        setup: PretrainSetup,
        output_dir: Path,
        tracker: ProgressTracker,
        config_text: str = "",
        strategy: Optional[LocalStrategy] = None,
        keep_states: int = 1,
    ) -> None:
        self.config_text = config_text
        self.keep_states = keep_states  # resume states kept beside the newest epoch weights; < 0: all
        self.setup = setup
        self.strategy = strategy or LocalStrategy()
        self.output_dir = output_dir
        self.tracker = tracker
        self.schedule_steps = 0
        self.saved: List[Path] = []
        self._saved_at: Optional[int] = None  # schedule_steps of the newest epoch save

    def save(self, name: str, position: Position, log_epoch: int, *, collective: bool = True) -> Path:
        """Write ``name``.bin and its state (rank 0); every rank calls it at the same point.

        In a data-parallel run the ranks first compare their weights, and afterwards
        ranks > 0 re-derive their dropout streams, as a resume from this file will.
        ``collective=False`` (an error is on its way out) skips both: other ranks may be gone.
        """
        obj, optimizer = self.setup.objective, self.setup.optimizer
        weights_path = self.output_dir / f"{name}.bin"
        if collective:
            self.strategy.check_identical([obj.model], f"{weights_path.name} (step {self.schedule_steps})")
            self.strategy.reseed(self.setup.seed, self.schedule_steps)
        if not self.strategy.is_main:
            return weights_path
        if self.config_text and not self.saved:
            # The config as given (not interpolated), as spaCy does; with the first weights,
            # so a run that fails before training leaves nothing behind.
            atomic_write_text(self.output_dir / "config.cfg", self.config_text)
        # model-last right after an epoch's save holds the same weights: one state serves both.
        same_as = (
            self.saved[-1].name
            if name == LAST and self.saved and self._saved_at == self.schedule_steps
            else None
        )
        keys = stable_keys(obj.model)
        rng_arrays, rng_meta = rng_state()
        arrays = {**model_arrays(obj.model), **optimizer_arrays(optimizer, keys), **rng_arrays}
        meta = {
            "epoch": position.epoch,
            "batches_done": position.batches_done,
            "schedule_steps": self.schedule_steps,
            "optimizer": optimizer_counters(optimizer, keys),
            "rng": rng_meta,
            "masker": obj.masker.get_state() if obj.masker is not None else None,
            "tracker": self.tracker.to_json(),
            "objective": obj.kind,
            "same_as": same_as,
        }
        # State first: a weights file on disk always has its state beside it.
        st.write_state(st.state_path(weights_path), arrays, meta)
        atomic_write_bytes(weights_path, obj.weights_bytes(optimizer))
        log = {
            "nr_word": self.tracker.nr_word,
            "loss": self.tracker.loss,
            "epoch_loss": self.tracker.epoch_loss,
            "epoch": log_epoch,
            "file": weights_path.name,
            "words_per_second": round(self.tracker.words_per_second, 1),
        }
        log_path = self.output_dir / "log.jsonl"
        previous = log_path.read_text(encoding="utf8") if log_path.exists() else ""
        atomic_write_text(log_path, previous + srsly.json_dumps(log) + "\n")
        if same_as is not None:
            st.state_path(self.output_dir / same_as).unlink(missing_ok=True)  # found through model-last's
        elif name != LAST:
            self._saved_at = self.schedule_steps
            self._prune_states(weights_path)
        self.saved.append(weights_path)
        return weights_path

    def _prune_states(self, newest: Path) -> None:
        """Keep the resume states of the newest ``keep_states`` epoch files (and model-last's):
        each is several times the size of its weights, and resuming needs only the newest."""
        if self.keep_states < 0:
            return
        ours = [st.state_path(p) for p in self.saved if p.name != f"{LAST}.bin"] + [st.state_path(newest)]
        earlier = sorted(
            (
                p
                for p in self.output_dir.glob(f"model*{st.STATE_SUFFIX}")
                if p not in ours and not p.name.startswith(LAST)
            ),
            key=_state_order,
        )
        for path in (earlier + ours)[: -self.keep_states or None]:
            path.unlink(missing_ok=True)


def _state_order(path: Path) -> Tuple[int, int]:
    """Training order of model{N}.temp / model{N} states: epoch, then the mid-epoch one first."""
    match = STATE_NAME.match(path.name)
    return (int(match.group(1)), 0 if match.group(2) else 1) if match else (-1, 0)


def resume(
    setup: PretrainSetup,
    resume_path: Path,
    epoch_resume: Optional[int],
    tracker: ProgressTracker,
    checkpointer: Checkpointer,
    printer: Printer,
) -> Tuple[int, int]:
    """Restore from ``resume_path``; returns (epoch to start at, batches of it to skip)."""
    if not resume_path.exists():
        near = (
            sorted(p.name for p in resume_path.parent.glob("model*.bin"))
            if resume_path.parent.is_dir()
            else []
        )
        raise UserError(
            f"--resume-path not found: {resume_path}",
            hint=f"Weights files in {resume_path.parent}: {', '.join(near)}."
            if near
            else "Give a weights file that pretrain wrote, e.g. OUTPUT/model3.bin.",
        )
    if resume_path.is_dir():
        raise UserError(
            f"--resume-path must be a weights file written by pretrain, not a folder: {resume_path}",
            hint=f"Give e.g. {resume_path}/model3.bin.",
        )
    state_file = st.find_state(resume_path)
    obj = setup.objective
    if state_file is None:
        # A spaCy-written (or older) file: weights only, as spaCy resumes.
        start = _epoch_from_name(resume_path, epoch_resume)
        obj.load_weights(resume_path.read_bytes(), where=str(resume_path))
        printer.warn(
            f"No resume state beside {resume_path.name} ({st.state_path(resume_path).name}): "
            "loaded the layer's weights only; the output layer and optimizer start fresh"
        )
        return start, 0
    arrays, meta = st.read_state(state_file)
    if meta.get("objective") != obj.kind:
        raise UserError(
            f"{resume_path} was written with another objective ({meta.get('objective')}, this config: {obj.kind})",
            hint="Resume with the config the run started with.",
        )
    load_model_arrays(obj.model, arrays, hint=RESUME_HINT)
    restore_optimizer(
        setup.optimizer,
        stable_keys(obj.model),
        arrays,
        meta["optimizer"],
        meta["schedule_steps"],
        hint=RESUME_HINT,
    )
    restore_rng(arrays, meta["rng"])
    if obj.masker is not None and meta.get("masker") is not None:
        obj.masker.set_state(meta["masker"])
    tracker.load_json(meta["tracker"])
    if meta["batches_done"] is None:
        tracker.epoch_loss = 0.0  # the uninterrupted run resets it after saving an epoch
    checkpointer.schedule_steps = meta["schedule_steps"]
    # Ranks > 0 restored rank 0's random states: give them the streams they had after the save.
    checkpointer.strategy.reseed(setup.seed, meta["schedule_steps"])
    start, skip = Position(meta["epoch"], meta["batches_done"]).next_start()
    if epoch_resume is not None and epoch_resume != start:
        printer.warn(
            f"--epoch-resume {epoch_resume} differs from the state's position (epoch {start}"
            f"{f', after {skip} batches' if skip else ''}): counting from epoch {epoch_resume}"
        )
        return epoch_resume, 0
    printer.info(
        f"Resuming exactly from {resume_path.name}: epoch {start}"
        + (f", after {skip} batches" if skip else "")
    )
    return start, skip


def _epoch_from_name(path: Path, epoch_resume: Optional[int]) -> int:
    if epoch_resume is not None:
        if epoch_resume < 0:
            raise UserError(f"--epoch-resume must be 0 or more, got {epoch_resume}")
        return epoch_resume
    match = MODEL_NAME.search(path.name)
    if not match:
        raise UserError(
            f"Cannot tell which epoch {path.name} ends (spaCy E1020)",
            hint="Pass --epoch-resume N, the epoch to continue counting from.",
        )
    return int(match.group(1)) + 1


def train_step(setup: PretrainSetup, docs: List[Doc], strategy: LocalStrategy) -> float:
    """One optimizer step on a batch (this rank's shard of it); returns the batch's loss."""
    objective = setup.objective
    grads = objective.backward(docs, strategy.shard_indices(len(docs)))
    if not grads.active:  # nothing to learn from in the whole batch: every rank skips alike
        return 0.0
    # Between backward and the step: each rank's gradient weighted by its share of the
    # objective's normaliser (see ShardGradients).
    strategy.reduce_gradients([objective.model], scale=grads.grad_weight)
    loss = strategy.reduce_loss(grads.loss, grads.loss_weight)
    objective.step(setup.optimizer)
    return loss


def _progress_bar(epoch: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        desc=f"epoch {epoch}", unit="w", unit_scale=True, leave=False, disable=not enabled, file=sys.stderr
    )


def pretrain(
    config: Config,
    output_dir: Union[str, Path],
    *,
    resume_path: Optional[Union[str, Path]] = None,
    epoch_resume: Optional[int] = None,
    use_gpu: int = -1,
    skip_last: bool = False,
    keep_states: int = 1,
    printer: Optional[Printer] = None,
    progress: Optional[bool] = None,
    where: str = "config",
    strategy: Optional[LocalStrategy] = None,
) -> PretrainResult:
    """Pretrain the layer ``config``'s [pretraining] block names; write into ``output_dir``.

    ``strategy`` makes this process one rank of a data-parallel run.
    """
    strategy = strategy or LocalStrategy()
    if not strategy.is_main:  # rank 0 alone prints
        printer, progress = Printer(no_print=True), False
    printer = printer or Printer(no_print=True)
    output_dir = Path(output_dir)
    if progress is None:
        progress = sys.stderr.isatty()
    setup = setup_pretraining(config, use_gpu=use_gpu, where=where)
    check_corpus_not_empty(setup)
    if strategy.is_main:
        output_dir.mkdir(parents=True, exist_ok=True)
    P = setup.settings
    tracker = ProgressTracker()
    checkpointer = Checkpointer(
        setup,
        output_dir,
        tracker,
        config_text=Config(config).to_str(),
        strategy=strategy,
        keep_states=keep_states,
    )
    start_epoch, skip = 0, 0
    strategy.sync_weights([setup.objective.model])  # same seed, same weights; made certain
    strategy.reseed(setup.seed, 0)
    if resume_path is not None:
        start_epoch, skip = resume(setup, Path(resume_path), epoch_resume, tracker, checkpointer, printer)
        strategy.check_identical([setup.objective.model], f"the resume from {Path(resume_path).name}")
    tracker.run_start = tracker.last_time = time.perf_counter()
    what = "masked-LM" if setup.objective.kind == "masked-lm" else "tok2vec layer"
    saving = f" - saving every {P['n_save_epoch']} epoch" if P["n_save_epoch"] else ""
    printer.divider(f"Pre-training {what} - starting at epoch {start_epoch}{saving}")
    printer.row(("#", "# Words", "Total Loss", "Loss", "w/s"), **ROW_SETTINGS)
    position = Position(start_epoch - 1, None)
    epoch = start_epoch
    failed = False
    try:
        for epoch in range(start_epoch, P["max_epochs"]):
            bar = _progress_bar(epoch, progress)
            position = Position(epoch, 0)
            for batch_id, batch in enumerate(P["batcher"](iter_docs(setup.corpus, setup.nlp))):
                if batch_id < skip:  # already trained on before the interruption
                    continue
                docs: List[Doc] = list(batch)
                loss = train_step(setup, docs, strategy)
                setup.optimizer.step_schedules()
                checkpointer.schedule_steps += 1
                position = Position(epoch, batch_id + 1)
                n_words = sum(len(d) for d in docs)
                bar.update(n_words)
                row = tracker.update(epoch, loss, n_words)
                if row:
                    with bar.external_write_mode(file=sys.stdout):
                        printer.row(row, **ROW_SETTINGS)
                if P["n_save_every"] and batch_id % P["n_save_every"] == 0:
                    checkpointer.save(f"model{epoch}.temp", position, epoch)
            bar.close()
            skip = 0
            position = Position(epoch, None)
            if not P["n_save_epoch"] or epoch % P["n_save_epoch"] == 0 or epoch == P["max_epochs"] - 1:
                checkpointer.save(f"model{epoch}", position, epoch)
            tracker.epoch_loss = 0.0
    except BaseException:
        failed = True
        raise
    finally:
        # Also after an interruption (resumable), but not before anything was trained.
        # After an error other ranks may be gone: rank 0 writes without asking them.
        if not skip_last and checkpointer.schedule_steps > 0:
            checkpointer.save(
                LAST, position, P["max_epochs"], collective=not failed or strategy.world_size == 1
            )
    return PretrainResult(
        output_dir=output_dir,
        saved=checkpointer.saved,
        words=tracker.run_words,
        words_per_second=tracker.words_per_second,
        start_epoch=start_epoch,
        end_epoch=max(position.epoch, start_epoch),
    )
