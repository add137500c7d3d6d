"""``train`` as a recipe: spaCy's semantics, plus exact resume, progress, metrics and plots.

Built on spaCy's own pieces (``nlp.update``, corpora, batchers, scorers, and ``init_nlp``'s
steps in :mod:`.initialize`); the loop itself is ours so it can checkpoint and resume exactly.
What it keeps from ``spacy train``: a seed fixed before the corpus is read, shuffling with
Python's ``random`` at every epoch, evaluation at step 0 and every ``eval_frequency`` steps with
the optimizer's parameter averages, patience counted from the best (earliest on ties)
evaluation, ``max_steps``/``max_epochs`` (0 = no limit, -1 = stream the corpus),
``accumulate_gradient`` by splitting batches, losses summed between evaluations, and
``model-best``/``model-last`` with ``meta.json["performance"]``.

The phases (:class:`~spacy_transfer.core.recipe.Recipe`): ``setup`` checks the config
(:func:`.checks.check_config`), chooses the device, builds and initializes the pipeline
(:mod:`.initialize`), resolves [training] and checks the pipeline against its data
(:func:`.checks.check_run`); ``restore`` applies the checkpoint (:mod:`.checkpoint`);
``run`` is the loop (:mod:`.step`, with the :mod:`.update` seam, and :mod:`.evaluate`);
``close`` ends the bar and the config's logger. Multi-process training plugs in through the
strategy (:class:`~spacy_transfer.core.distributed.LocalStrategy`): sharding a batch,
combining gradients between :func:`.step.compute_gradients` and :func:`.step.apply_gradients`,
and which rank writes.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from spacy.schemas import ConfigSchemaTraining
from spacy.training import Example
from spacy.util import registry, resolve_dot_names
from thinc.api import Config, Model, Optimizer, fix_random_seed

from ...errors import UserError
from .. import allocator
from ..devices import mixed_precision_note, setup_device
from ..io import atomic_dir, atomic_write_text
from ..recipe import Recipe, Reporter, RunOptions
from ..state import reseed_cupy
from ..validation import config_errors
from . import checks
from .batches import TrainBatches
from .checkpoint import Checkpoint, save_checkpoint
from .evaluate import make_evaluator, numeric_scores
from .initialize import annotating_sentence_setters, init_nlp_with_init_tok2vec
from .outputs import make_before_to_disk, update_meta
from .plots import write_plot
from .progress import TrainingDisplay, metrics_row
from .run_state import ConfigLogger, TrainResult, TrainState, should_stop
from .signals import StopSignals
from .step import apply_gradients, compute_gradients
from .update import UpdateStrategy

DIR_BEST = "model-best"
DIR_LAST = "model-last"
DIR_CHECKPOINT = "checkpoint"


class TrainRecipe(Recipe[TrainResult]):
    """Train a pipeline from a (loaded, not yet resolved) config; fresh, or resumed from
    ``output``'s checkpoint. ``update`` is the loop's forward/backward seam."""

    def __init__(
        self,
        config: Config,
        output: Optional[Path] = None,
        options: Optional[RunOptions] = None,
        *,
        resume: bool = False,
        update: Optional[UpdateStrategy] = None,
        reporter: Optional[Reporter] = None,
    ) -> None:
        super().__init__(options, reporter)
        self.config = config
        self.output = Path(output) if output is not None else None
        self.resume = resume
        self.update = update or UpdateStrategy()
        self.checkpoint: Optional[Checkpoint] = None
        self.logger: Optional[ConfigLogger] = None
        self.display: Optional[TrainingDisplay] = None

    # --- setup ---

    def setup(self) -> None:
        interpolated = checks.check_config(self.config, self.where)
        if self.resume:
            self.checkpoint = self._open_checkpoint()
        self.sourced = checks.sourced_components(interpolated)
        gpu = self.options.use_gpu
        self.device = setup_device(gpu, interpolated.get("training", {}).get("gpu_allocator"))
        with config_errors(self.where), checks.missing_labels_as_user_error():
            # spaCy's init_nlp steps, with [initialize] init_tok2vec loaded and checked
            self.nlp = init_nlp_with_init_tok2vec(
                self.config, use_gpu=gpu, load=self.checkpoint is None, where=self.where
            )
        examples = self._resolve_training()
        checks.check_run(self.nlp, self.frozen, self.annotating, examples, self.dev_corpus, self.sourced)
        self.evaluate = make_evaluator(self.nlp, self.dev_corpus, self.score_weights)
        self.before_to_disk = make_before_to_disk(self.T["before_to_disk"])
        self.state = TrainState()
        logged = [
            n for n, p in self.nlp.pipeline if n not in self.frozen and getattr(p, "is_trainable", False)
        ]
        score_cols = [k for k, v in self.score_weights.items() if v is not None]
        self.display = TrainingDisplay(self.reporter, logged, score_cols, self.T["max_steps"])
        self.logger = self._config_logger()
        self.update.bind(self.nlp, self.reporter)

    def _open_checkpoint(self) -> Checkpoint:
        if self.output is None:
            raise UserError(
                "--resume needs --output: the folder of the run to continue",
                hint="Pass the same --output as the interrupted run.",
            )
        return Checkpoint(self.output / DIR_CHECKPOINT)

    def _resolve_training(self) -> Optional[List[Example]]:
        """[training] resolved as spacy train does (seed first, then optimizer, batcher and
        corpora afresh); the training examples to check, when read up front."""
        with config_errors(self.where):
            config = self.nlp.config.interpolate()
            self.seed = config["training"]["seed"]
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
        self.sentence_setters = annotating_sentence_setters(self.nlp, self.frozen, self.annotating)
        self.annotating += self.sentence_setters
        self.optimizer: Optimizer = T["optimizer"]
        self.score_weights: Dict[str, Any] = dict(T["score_weights"])
        self.batches = TrainBatches(self.nlp, self.train_corpus, T["batcher"], T["max_epochs"])
        if T["max_epochs"] < 0:
            return None
        examples = self.batches.load()
        return examples if self.update.check_labels else None

    def _config_logger(self) -> Optional[ConfigLogger]:
        """A logger from the config other than spaCy's console one (ours replaces that)."""
        name = str(self.nlp.config["training"]["logger"].get("@loggers", ""))
        if name.startswith("spacy.ConsoleLogger") or not self.strategy.is_main:
            return None
        with self.nlp.select_pipes(disable=self.frozen):
            log_step, finalize = self.T["logger"](self.nlp, self.reporter.stdout, self.reporter.stderr)
        return ConfigLogger(log_step, finalize)

    # --- restore ---

    def restore(self) -> None:
        cp = self.checkpoint
        if cp is None:
            # Same seed, same weights on every rank; copying rank 0's makes it certain.
            self.strategy.sync_weights(
                [p.model for _, p in self.nlp.pipeline if isinstance(getattr(p, "model", None), Model)]
            )
            return
        cp.check_config(self.nlp.config)
        cp.restore_model(self.nlp)
        cp.restore_optimizer(self.nlp, self.optimizer)
        self.state = cp.state
        self.batches.replay(cp.position)
        cp.restore_rng()
        reseed_cupy(self.seed, self.state.step)
        self.strategy.reseed(self.seed, self.state.step)

    # --- run ---

    def run(self) -> TrainResult:
        s, T = self.state, self.T
        self._prepare_output()
        self._print_header()
        if s.step >= 0 and should_stop(s, patience=T["patience"], max_steps=T["max_steps"]):
            self.reporter.info(
                f"The checkpoint is already at the end of training (step {s.step}); nothing to do"
            )
            return self._finish(None)
        interrupted: Optional[int] = None
        assert self.display is not None
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
        if self.output is not None and self.strategy.is_main:
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
            update=self.update,
        )
        apply_gradients(self.nlp, self.optimizer, self.frozen, self.strategy)
        s.step, s.epoch = step, epoch
        s.schedule_steps += 1
        s.words += sum(len(eg) for eg in batch)
        s.elapsed_s = clock[1] + time.perf_counter() - clock[0]
        if step % T["eval_frequency"] == 0:
            self.evaluate_and_save()
            return
        if self.logger is not None:
            self.logger.log_step(None)
        seconds = max(s.elapsed_s, 1e-9)
        assert self.display is not None
        self.display.step(step, epoch, s.losses, s.words / seconds, (step + 1) / seconds)

    def evaluate_and_save(self) -> None:
        """Score the averaged weights on the dev set (rank 0), then write what an evaluation writes."""
        s = self.state
        if self.strategy.is_main:
            with self.nlp.use_params(self.optimizer.averages):
                score, scores = self.evaluate()
        else:
            score, scores = 0.0, {}
        score, scores = self.strategy.broadcast((score, scores))
        s.results.append((score, s.step))
        is_best = score == max(s.results)[0]
        losses = self.strategy.reduce_stats(dict(s.losses))
        row = metrics_row(
            s.step, s.epoch, losses, numeric_scores(scores), score, s.words, s.elapsed_s, is_best
        )
        s.history.append(row)
        if self.strategy.is_main:
            self._report_evaluation(row, score, scores, is_best)
        s.losses = {}
        reseed_cupy(self.seed, s.step)
        self.strategy.reseed(self.seed, s.step)
        self.save_checkpoint()
        self.strategy.barrier()

    def _report_evaluation(
        self, row: Dict[str, Any], score: float, scores: Dict[str, Any], best: bool
    ) -> None:
        s = self.state
        with self.nlp.select_pipes(disable=self.frozen):
            update_meta(self.score_weights, self.nlp, scores, s.losses)
        if self.output is not None:
            self.save_pipelines(best)
        assert self.display is not None
        self.display.evaluation(row)
        if self.logger is not None:
            info = s.logger_info(score, scores)
            if self.output is not None:
                info["output_path"] = str(self.output / DIR_LAST)
            self.logger.log_step(info)
        if self.output is not None:
            self.reporter.write_log(self.output / "metrics.jsonl", s.history)
            write_plot(
                self.output / "training.png", s.history, [k for k, v in self.score_weights.items() if v]
            )

    # --- outputs ---

    def _prepare_output(self) -> None:
        if self.output is None or not self.strategy.is_main:
            return
        self.output.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.output / "config.cfg", self.nlp.config.to_str())
        if self.checkpoint is None and (self.output / DIR_CHECKPOINT).exists():
            self.reporter.warn(
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
        if self.output is None or not self.strategy.is_main:
            return
        save_checkpoint(
            self.output / DIR_CHECKPOINT, self.nlp, self.optimizer, self.state, self.batches.position()
        )

    def _save_on_abort(self, e: BaseException) -> None:
        """An error mid-run (not a config mistake): keep the weights trained so far in model-last."""
        s = self.state
        if self.display is not None:
            self.display.close()
        if self.output is not None and self.strategy.is_main and s.step >= 0 and not isinstance(e, UserError):
            self.reporter.warn(
                f"Aborting after step {s.step} ({type(e).__name__}); saving the last weights to {self.output / DIR_LAST}"
            )
            with contextlib.suppress(Exception):
                self.save_pipelines(False)

    # --- what the user reads ---

    def _print_header(self) -> None:
        r = self.reporter
        if self.output is None:
            r.info("No --output given: nothing will be saved")
        r.info(f"Pipeline: {self.nlp.pipe_names}")
        if self.frozen:
            r.info(f"Frozen components: {self.frozen}")
        if self.annotating:
            r.info(f"Set annotations on update for: {self.annotating}")
        if self.sentence_setters:
            r.info(
                f"Sentence boundaries for the transformer: {self.sentence_setters} run on each training batch "
                "(as at prediction time), as if listed in [training] annotating_components"
            )
        r.info(f"Device: {self.device}; initial learn rate: {self.optimizer.learn_rate}")
        if self.device == "CPU":
            r.info(allocator.log_line())
        note = mixed_precision_note(self.nlp, self.options.use_gpu >= 0)
        if note:
            r.info(note)
        if self.checkpoint is not None:
            r.info(
                f"Resuming from {self.checkpoint.path} at step {self.state.step + 1} (epoch {self.state.epoch})"
            )
        if self.output is not None:
            r.info(
                f"Saving to {self.output}: model-best/, model-last/, checkpoint/, metrics.jsonl, training.png"
            )

    def _finish(self, interrupted: Optional[int]) -> TrainResult:
        s, r = self.state, self.reporter
        if interrupted is not None:
            r.warn(f"Stopped at step {s.step} by {signal.Signals(interrupted).name}")
            if self.output is not None:
                r.info(
                    f"Checkpoint saved: continue with the same command plus --resume (output {self.output})"
                )
        if s.best is not None:
            # model-best holds the latest evaluation that tied or beat every earlier one.
            saved = max((row["step"] for row in s.history if row.get("best")), default=s.best[1])
            r.good(
                f"Best score {s.best[0]:.4f} at step {saved} (of {s.step + 1} steps, {s.epoch + 1} epoch(s), {s.elapsed_s:.0f}s)"
            )
        if self.output is not None:
            r.good(f"Pipelines: {self.output / DIR_BEST} (best), {self.output / DIR_LAST} (last)")
        return TrainResult(self.nlp, s, self.output, interrupted)

    # --- close ---

    def close(self) -> None:
        if self.logger is not None:
            self.logger.finalize()
            self.logger = None
        super().close()


def train(
    config: Config,
    output: Optional[Path] = None,
    *,
    resume: bool = False,
    update: Optional[UpdateStrategy] = None,
    **options: Any,
) -> TrainResult:
    """Train a pipeline from a (loaded, not yet resolved) config: :class:`TrainRecipe` with
    :class:`~spacy_transfer.core.recipe.RunOptions` (``use_gpu``, ``strategy``, ``where``,
    ``stdout``, ``stderr``, ``bar``)."""
    opts = RunOptions.given(**options)
    return TrainRecipe(config, output, opts, resume=resume, update=update).execute()
