"""``pretrain`` as a recipe: spaCy's ``[pretraining]`` semantics, lossless resume.

The phases (:class:`~spacy_transfer.core.recipe.Recipe`): ``setup`` checks the output folder,
loads the pipeline and builds the objective (:mod:`.setup`); ``restore`` makes every rank start
from the same weights and continues from ``resume_path`` (:mod:`.resume`); ``run`` is the
epochs below; ``close`` ends the bar.

Per epoch the corpus is streamed, batched by ``[pretraining.batcher]`` and each batch
updates the layer and the objective's output layer. ``model{N}.bin`` (the layer's
averaged weights, spaCy's format) is written after epochs (every ``n_save_epoch``, and
the last), ``model{N}.temp.bin`` every ``n_save_every`` batches, ``model-last.bin`` at the
end (also when interrupted) unless ``skip_last``; each with a line in ``log.jsonl``. A
resume state (see :mod:`.state_file`, several times the weights' size) is kept beside the
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

import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Union

from spacy.tokens import Doc
from thinc.api import Config

from ...errors import UserError
from .. import allocator
from ..distributed.strategy import LocalStrategy
from ..recipe import Recipe, RunOptions
from .outputs import LAST, OutputWriter, Position
from .progress import HEADER, ROW_SETTINGS, ProgressTracker
from .raw_text import iter_docs
from .resume import resume
from .setup import PretrainSetup, check_corpus_not_empty, setup_pretraining

__all__ = ["PretrainRecipe", "PretrainResult", "pretrain", "setup_pretraining", "train_step"]


@dataclass
class PretrainResult:
    output_dir: Path
    saved: List[Path]
    words: int
    words_per_second: float
    start_epoch: int
    end_epoch: int


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


class PretrainRecipe(Recipe[PretrainResult]):
    """Pretrain the layer ``config``'s [pretraining] block names; write into ``output_dir``.

    ``resume_path``: a weights file of an earlier run to continue from (``epoch_resume``: the
    epoch to count from, when the file's name or state does not say); ``skip_last``: no
    model-last; ``keep_states``: resume states kept beside the newest N epoch files."""

    def __init__(
        self,
        config: Config,
        output_dir: Union[str, Path],
        options: Optional[RunOptions] = None,
        *,
        resume_path: Optional[Union[str, Path]] = None,
        epoch_resume: Optional[int] = None,
        skip_last: bool = False,
        keep_states: int = 1,
    ) -> None:
        super().__init__(options)
        self.config = config
        self.output_dir = Path(output_dir)
        self.resume_path = Path(resume_path) if resume_path is not None else None
        self.epoch_resume = epoch_resume
        self.skip_last = skip_last
        self.keep_states = keep_states
        self.position = Position(-1, None)  # moved on by the loop, read when stopping
        self.start_epoch, self.skip = 0, 0

    def setup(self) -> None:
        self._check_output_dir()
        self.reporter.info(f"Using {self.strategy.describe(self.options.use_gpu)}")
        if self.options.use_gpu < 0:
            self.reporter.info(allocator.log_line())
        self.setup_ = setup_pretraining(self.config, use_gpu=self.options.use_gpu, where=self.where)
        check_corpus_not_empty(self.setup_)
        if self.strategy.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        self.tracker = ProgressTracker()
        self.writer = OutputWriter(
            self.setup_,
            self.output_dir,
            self.tracker,
            Config(self.config).to_str(),
            self.strategy,
            keep_states=self.keep_states,
            reporter=self.reporter,
        )

    def _check_output_dir(self) -> None:
        out, r = self.output_dir, self.reporter
        if out.exists() and not out.is_dir():
            raise UserError(
                f"The output path {out} is a file", hint="Give a folder for the pretrained weights."
            )
        if out.exists() and any(out.iterdir()):
            if self.resume_path is not None:
                r.warn(
                    f"Output folder {out} is not empty: weights of the epochs that follow will be overwritten"
                )
            else:
                r.warn(f"Output folder {out} is not empty: files of the same names will be overwritten")

    def restore(self) -> None:
        setup, strategy = self.setup_, self.strategy
        strategy.sync_weights([setup.objective.model])  # same seed, same weights; made certain
        strategy.reseed(setup.seed, 0)
        if self.resume_path is not None:
            self.start_epoch, self.skip = resume(
                setup,
                self.resume_path,
                self.epoch_resume,
                self.tracker,
                self.position,
                strategy,
                self.reporter,
            )
            strategy.check_identical([setup.objective.model], f"the resume from {self.resume_path.name}")
        self.position.epoch = self.start_epoch - 1

    def run(self) -> PretrainResult:
        P = self.setup_.settings
        self.tracker.run_start = self.tracker.last_time = time.perf_counter()
        self._print_header()
        failed = False
        try:
            for epoch in range(self.start_epoch, P["max_epochs"]):
                self._run_epoch(epoch, self.skip if epoch == self.start_epoch else 0)
        except BaseException:
            failed = True
            raise
        finally:
            # Also after an interruption (resumable), but not before anything was trained.
            # After an error other ranks may be gone: rank 0 writes without asking them.
            if not self.skip_last and self.position.schedule_steps > 0:
                collective = not failed or self.strategy.world_size == 1
                self.writer.save(LAST, self.position, P["max_epochs"], collective=collective)
        return PretrainResult(
            output_dir=self.output_dir,
            saved=self.writer.saved,
            words=self.tracker.run_words,
            words_per_second=self.tracker.words_per_second,
            start_epoch=self.start_epoch,
            end_epoch=max(self.position.epoch, self.start_epoch),
        )

    def _print_header(self) -> None:
        setup, r = self.setup_, self.reporter
        P = setup.settings
        what = "masked-LM" if setup.objective.kind == "masked-lm" else "tok2vec layer"
        saving = f" - saving every {P['n_save_epoch']} epoch" if P["n_save_epoch"] else ""
        r.divider(f"Pre-training {what} - starting at epoch {self.start_epoch}{saving}")
        r.row(HEADER, **ROW_SETTINGS)

    def _run_epoch(self, epoch: int, skip: int) -> None:
        """One epoch, without its first ``skip`` batches (trained on before an interruption)."""
        setup, position, P = self.setup_, self.position, self.setup_.settings
        bar = self.reporter.open_bar(desc=f"epoch {epoch}", unit="w", unit_scale=True, leave=False)
        position.epoch, position.batches_done = epoch, 0
        for batch_id, batch in enumerate(P["batcher"](iter_docs(setup.corpus, setup.nlp))):
            if batch_id < skip:
                continue
            docs: List[Doc] = list(batch)
            loss = train_step(setup, docs, self.strategy)
            setup.optimizer.step_schedules()
            position.schedule_steps += 1
            position.batches_done = batch_id + 1
            n_words = sum(len(d) for d in docs)
            bar.update(n_words)
            row = self.tracker.update(epoch, loss, n_words)
            if row:
                self.reporter.row(row, **ROW_SETTINGS)
            if P["n_save_every"] and batch_id % P["n_save_every"] == 0:
                self.writer.save(f"model{epoch}.temp", position, epoch)
        self.reporter.close_bar()
        position.batches_done = None
        if not P["n_save_epoch"] or epoch % P["n_save_epoch"] == 0 or epoch == P["max_epochs"] - 1:
            self.writer.save(f"model{epoch}", position, epoch)
        self.tracker.epoch_loss = 0.0


def pretrain(
    config: Config,
    output_dir: Union[str, Path],
    *,
    resume_path: Optional[Union[str, Path]] = None,
    epoch_resume: Optional[int] = None,
    skip_last: bool = False,
    keep_states: int = 1,
    **options: object,
) -> PretrainResult:
    """:class:`PretrainRecipe` run from start to end; ``options``:
    :class:`~spacy_transfer.core.recipe.RunOptions` (``use_gpu``, ``strategy``, ``where``, ...)."""
    opts = RunOptions.given(**options)
    recipe = PretrainRecipe(
        config,
        output_dir,
        opts,
        resume_path=resume_path,
        epoch_resume=epoch_resume,
        skip_last=skip_last,
        keep_states=keep_states,
    )
    return recipe.execute()
