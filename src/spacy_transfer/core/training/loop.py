"""The training loop: spaCy's semantics, plus full resume, progress, metrics and plots.

Built on spaCy's own pieces (``nlp.update``, corpora, batchers, scorers, and ``init_nlp``'s
steps in :mod:`.initialize`); the loop itself is ours so it can checkpoint and resume exactly. What it keeps from
``spacy train``: a seed fixed before the corpus is read, shuffling with Python's
``random`` at every epoch, evaluation at step 0 and every ``eval_frequency`` steps with
the optimizer's parameter averages, patience counted from the best (earliest on ties)
evaluation, ``max_steps``/``max_epochs`` (0 = no limit, -1 = stream the corpus),
``accumulate_gradient`` by splitting batches, losses summed between evaluations, and
``model-best``/``model-last`` with ``meta.json["performance"]``.

Multi-process training plugs in through :class:`~spacy_transfer.core.distributed.LocalStrategy`: sharding a
batch, combining gradients between :func:`compute_gradients` and
:func:`apply_gradients`, and which rank writes.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Optional, Tuple

from spacy.language import Language
from spacy.schemas import ConfigSchemaTraining
from spacy.training import Example
from spacy.util import registry, resolve_dot_names
from thinc.api import Config, Model, Optimizer, fix_random_seed

from ...errors import UserError
from ..devices import mixed_precision_note, setup_device
from ..distributed.strategy import LocalStrategy
from ..io import atomic_dir, atomic_write_text
from ..state import python_rng_json, reseed_cupy, set_python_rng_json
from ..validation import check_vectors_path, config_errors
from . import checks
from .batches import TrainBatches
from .checkpoint import Checkpoint, save_checkpoint
from .evaluate import make_evaluator, numeric_scores
from .initialize import annotating_sentence_setters, init_nlp_with_init_tok2vec
from .outputs import make_before_to_disk, update_meta
from .plots import write_plot
from .progress import TrainingDisplay, metrics_row, write_metrics
from .run_state import TrainState, should_stop
from .signals import StopSignals
from .step import apply_gradients, compute_gradients

DIR_BEST = "model-best"
DIR_LAST = "model-last"
DIR_CHECKPOINT = "checkpoint"


@dataclass
class TrainResult:
    nlp: Language
    state: TrainState
    output: Optional[Path]
    interrupted: Optional[int] = None  # the signal number when stopped by Ctrl-C / SIGTERM


# --- the run ---------------------------------------------------------------------------


class Trainer:
    """Set up a run (fresh or resumed), then :meth:`run` it."""

    def __init__(
        self,
        config: Config,
        output: Optional[Path],
        *,
        use_gpu: int = -1,
        resume: bool = False,
        strategy: Optional[LocalStrategy] = None,
        stdout: Optional[IO] = None,
        stderr: Optional[IO] = None,
        bar: Optional[bool] = None,
        where: str = "config",
        prepare: Optional[Callable[[Language], None]] = None,
        check_labels: bool = True,
    ) -> None:
        """``prepare`` is called with the initialized (or restored) pipeline before training,
        e.g. to give components another loss (``distill``); it must not change weights.
        ``check_labels=False`` skips the check that the data annotates every component and
        label (``distill``: the teacher's labels, some of which it may never predict)."""
        self.label_check = check_labels
        stdout = stdout or sys.stdout
        stderr = stderr or sys.stderr
        self.output = Path(output) if output is not None else None
        self.use_gpu = use_gpu
        self.strategy = strategy or LocalStrategy()
        self.where = where
        if resume and self.output is None:
            raise UserError(
                "--resume needs --output: the folder of the run to continue",
                hint="Pass the same --output as the interrupted run.",
            )
        self.checkpoint = (
            Checkpoint(self.output / DIR_CHECKPOINT) if resume and self.output is not None else None
        )
        checks.check_sections(config, where)
        with config_errors(where):
            interpolated = config.interpolate()
        checks.check_corpus_paths(interpolated)
        self.sourced = checks.sourced_components(interpolated)
        checks.check_static_vectors(interpolated)
        check_vectors_path(interpolated)
        self.device = setup_device(use_gpu, interpolated.get("training", {}).get("gpu_allocator"))
        with config_errors(where), checks.missing_labels_as_user_error():
            # spaCy's init_nlp steps, with [initialize] init_tok2vec loaded and checked
            self.nlp = init_nlp_with_init_tok2vec(
                config, use_gpu=use_gpu, load=self.checkpoint is None, where=where
            )
        if self.checkpoint is not None:
            self.checkpoint.check_config(self.nlp.config)
            self.checkpoint.restore_model(self.nlp)
        if prepare is not None:
            prepare(self.nlp)
        self._setup_training(stdout, stderr, bar)

    def _setup_training(self, stdout: IO, stderr: IO, bar: Optional[bool]) -> None:
        nlp = self.nlp
        with config_errors(self.where):
            config = nlp.config.interpolate()
            self.seed = config["training"]["seed"]
            # As spacy train: seed, then build optimizer, batcher and corpora afresh.
            if self.seed is not None:
                fix_random_seed(self.seed)
        with config_errors(self.where, section="training"):
            T = registry.resolve(config["training"], schema=ConfigSchemaTraining)
        with config_errors(self.where):
            self.train_corpus, self.dev_corpus = resolve_dot_names(
                config, [T["train_corpus"], T["dev_corpus"]]
            )
        self.T = T
        self.frozen: List[str] = list(T["frozen_components"])
        self.annotating: List[str] = list(T["annotating_components"])
        self.sentence_setters = annotating_sentence_setters(nlp, self.frozen, self.annotating)
        self.annotating += self.sentence_setters
        checks.check_frozen_listeners(nlp, self.frozen, self.annotating)
        self.optimizer: Optimizer = T["optimizer"]
        self.score_weights: Dict[str, Any] = dict(T["score_weights"])
        self.batches = TrainBatches(nlp, self.train_corpus, T["batcher"], T["max_epochs"])
        if T["max_epochs"] >= 0:
            examples = self.batches.load()
            if self.label_check:
                checks.check_labels(nlp, examples, self.frozen, checks.labels_given(nlp), self.sourced)
        self._check_dev()
        self.evaluate = make_evaluator(nlp, self.dev_corpus, self.score_weights)
        self.before_to_disk = make_before_to_disk(T["before_to_disk"])
        self.state = TrainState()
        if self.checkpoint is not None:
            self.checkpoint.restore_optimizer(nlp, self.optimizer)
            self.state = self.checkpoint.state
            self.batches.replay(self.checkpoint.position)
            self.checkpoint.restore_rng()
            reseed_cupy(self.seed, self.state.step)
            self.strategy.reseed(self.seed, self.state.step)
        else:
            # Same seed, same weights on every rank; copying rank 0's makes it certain.
            self.strategy.sync_weights(
                [p.model for _, p in nlp.pipeline if isinstance(getattr(p, "model", None), Model)]
            )
        self.is_main = self.strategy.is_main
        logged = [n for n, p in nlp.pipeline if n not in self.frozen and getattr(p, "is_trainable", False)]
        score_cols = [k for k, v in self.score_weights.items() if v is not None]
        self.display = TrainingDisplay(
            logged, score_cols, T["max_steps"], stdout=stdout, stderr=stderr, bar=bar, enabled=self.is_main
        )
        self.extra_logger = self._config_logger(T, stdout, stderr)

    def _check_dev(self) -> None:
        # Reading the dev set must not move the random state the training run depends on.
        rng = python_rng_json()
        try:
            checks.check_not_empty(self.dev_corpus(self.nlp), "dev", "[training] dev_corpus")
        finally:
            set_python_rng_json(rng)

    def _config_logger(self, T: Dict[str, Any], stdout: IO, stderr: IO) -> Optional[tuple]:
        """A logger from the config other than spaCy's console one (ours replaces that)."""
        name = str(self.nlp.config["training"]["logger"].get("@loggers", ""))
        if name.startswith("spacy.ConsoleLogger") or not self.is_main:
            return None
        with self.nlp.select_pipes(disable=self.frozen):
            return T["logger"](self.nlp, stdout, stderr)

    # --- outputs ---

    def _prepare_output(self) -> None:
        if self.output is None or not self.is_main:
            return
        self.output.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.output / "config.cfg", self.nlp.config.to_str())
        if self.checkpoint is None and (self.output / DIR_CHECKPOINT).exists():
            self.display.warn(
                f"Starting a new run in {self.output}: its previous checkpoint and pipelines will be replaced (use --resume to continue it instead)"
            )

    def save_pipelines(self, is_best: bool) -> None:
        """model-last with the averaged weights; model-best as a complete copy of it."""
        assert self.output is not None
        with self.nlp.use_params(self.optimizer.averages):
            to_save = self.before_to_disk(self.nlp)
            with atomic_dir(self.output / DIR_LAST) as tmp:
                to_save.to_disk(tmp)
        if is_best:
            with atomic_dir(self.output / DIR_BEST) as tmp:
                shutil.copytree(self.output / DIR_LAST, tmp, dirs_exist_ok=True)

    def save_checkpoint(self) -> None:
        if self.output is None or not self.is_main:
            return
        save_checkpoint(
            self.output / DIR_CHECKPOINT, self.nlp, self.optimizer, self.state, self.batches.position()
        )

    # --- evaluation ---

    def evaluate_and_save(self) -> None:
        s = self.state
        if self.is_main:
            with self.nlp.use_params(self.optimizer.averages):
                score, scores = self.evaluate()
        else:
            score, scores = 0.0, {}
        score, scores = self.strategy.broadcast((score, scores))
        s.results.append((score, s.step))
        is_best = score == max(s.results)[0]
        row = metrics_row(
            s.step,
            s.epoch,
            self.strategy.reduce_stats(dict(s.losses)),
            numeric_scores(scores),
            score,
            s.words,
            s.elapsed_s,
            is_best,
        )
        s.history.append(row)
        if self.is_main:
            with self.nlp.select_pipes(disable=self.frozen):
                update_meta(self.score_weights, self.nlp, scores, s.losses)
            if self.output is not None:
                self.save_pipelines(is_best)
            self.display.evaluation(row)
            if self.extra_logger is not None:
                info = s.logger_info(score, scores)
                if self.output is not None:
                    info["output_path"] = str(self.output / DIR_LAST)
                self.extra_logger[0](info)
            if self.output is not None:
                write_metrics(self.output / "metrics.jsonl", s.history)
                write_plot(
                    self.output / "training.png", s.history, [k for k, v in self.score_weights.items() if v]
                )
        s.losses = {}
        reseed_cupy(self.seed, s.step)
        self.strategy.reseed(self.seed, s.step)
        self.save_checkpoint()
        self.strategy.barrier()

    # --- the loop ---

    def run(self) -> TrainResult:
        s, T = self.state, self.T
        self._prepare_output()
        if self.is_main:
            self._print_header()
        interrupted: Optional[int] = None
        if s.step >= 0 and should_stop(s, patience=T["patience"], max_steps=T["max_steps"]):
            self.display.info(
                f"The checkpoint is already at the end of training (step {s.step}); nothing to do"
            )
            return self._finish(interrupted)
        self.display.start(s.step)
        clock = (time.perf_counter(), s.elapsed_s)  # this run's start, the time of earlier runs
        try:
            with StopSignals() as signals:
                for epoch, batch in self.batches:
                    self._step(epoch, batch, clock)
                    if signals.received is not None:
                        interrupted = signals.received
                        break
                    if should_stop(s, patience=T["patience"], max_steps=T["max_steps"]):
                        break
        except BaseException as e:
            self._save_on_abort(e)
            raise
        self.display.close()
        s.finished = interrupted is None
        if self.output is not None and self.is_main:
            self.save_pipelines(False)
            self.save_checkpoint()  # where to continue from (Ctrl-C, or a later larger max_steps)
        return self._finish(interrupted)

    def _step(self, epoch: int, batch: List[Example], clock: Tuple[float, float]) -> None:
        """One update on ``batch``, then evaluation (every eval_frequency steps) or a progress line."""
        s, T = self.state, self.T
        step = s.step + 1
        if T["before_update"] is not None:
            T["before_update"](self.nlp, {"step": step, "epoch": epoch})
        compute_gradients(
            self.nlp,
            self.strategy.shard(batch),
            dropout=float(T["dropout"]),
            losses=s.losses,
            exclude=self.frozen,
            annotating=self.annotating,
            accumulate_gradient=T["accumulate_gradient"],
        )
        apply_gradients(self.nlp, self.optimizer, self.frozen, self.strategy)
        s.step, s.epoch = step, epoch
        s.schedule_steps += 1
        s.words += sum(len(eg) for eg in batch)
        s.elapsed_s = clock[1] + time.perf_counter() - clock[0]
        if step % T["eval_frequency"] == 0:
            self.evaluate_and_save()
            return
        if self.extra_logger is not None:
            self.extra_logger[0](None)
        seconds = max(s.elapsed_s, 1e-9)
        self.display.step(step, epoch, s.losses, s.words / seconds, (step + 1) / seconds)

    def _save_on_abort(self, e: BaseException) -> None:
        """An error mid-run (not a config mistake): keep the weights trained so far in model-last."""
        s = self.state
        self.display.close()
        if self.output is not None and self.is_main and s.step >= 0 and not isinstance(e, UserError):
            self.display.warn(
                f"Aborting after step {s.step} ({type(e).__name__}); saving the last weights to {self.output / DIR_LAST}"
            )
            with contextlib.suppress(Exception):
                self.save_pipelines(False)

    def _print_header(self) -> None:
        d = self.display
        d.info(f"Pipeline: {self.nlp.pipe_names}")
        if self.frozen:
            d.info(f"Frozen components: {self.frozen}")
        if self.annotating:
            d.info(f"Set annotations on update for: {self.annotating}")
        if self.sentence_setters:
            d.info(
                f"Sentence boundaries for the transformer: {self.sentence_setters} run on each training batch "
                "(as at prediction time), as if listed in [training] annotating_components"
            )
        d.info(f"Device: {self.device}; initial learn rate: {self.optimizer.learn_rate}")
        note = mixed_precision_note(self.nlp, self.use_gpu >= 0)
        if note:
            d.info(note)
        if self.checkpoint is not None:
            d.info(
                f"Resuming from {self.checkpoint.path} at step {self.state.step + 1} (epoch {self.state.epoch})"
            )
        if self.output is not None:
            d.info(
                f"Saving to {self.output}: model-best/, model-last/, checkpoint/, metrics.jsonl, training.png"
            )

    def _finish(self, interrupted: Optional[int]) -> TrainResult:
        if self.extra_logger is not None:
            self.extra_logger[1]()
        s = self.state
        if self.is_main:
            best = s.best
            if interrupted is not None:
                self.display.warn(f"Stopped at step {s.step} by {signal.Signals(interrupted).name}")
                if self.output is not None:
                    self.display.info(
                        f"Checkpoint saved: continue with the same command plus --resume (output {self.output})"
                    )
            if best is not None:
                # model-best holds the latest evaluation that tied or beat every earlier one.
                saved = max((r["step"] for r in s.history if r.get("best")), default=best[1])
                self.display.good(
                    f"Best score {best[0]:.4f} at step {saved} (of {s.step + 1} steps, {s.epoch + 1} epoch(s), {s.elapsed_s:.0f}s)"
                )
            if self.output is not None:
                self.display.good(
                    f"Pipelines: {self.output / DIR_BEST} (best), {self.output / DIR_LAST} (last)"
                )
        return TrainResult(self.nlp, s, self.output, interrupted)


def train(config: Config, output: Optional[Path] = None, **kwargs: Any) -> TrainResult:
    """Train a pipeline from a (loaded, not yet resolved) config; see :class:`Trainer`."""
    return Trainer(config, output, **kwargs).run()
