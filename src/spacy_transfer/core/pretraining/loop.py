"""The pretraining loop: spaCy's ``[pretraining]`` semantics, lossless resume.

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

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Union

from spacy.tokens import Doc
from thinc.api import Config
from wasabi import Printer

from ..distributed.strategy import LocalStrategy
from .outputs import LAST, OutputWriter, Position
from .progress import HEADER, ROW_SETTINGS, ProgressTracker, progress_bar
from .raw_text import iter_docs
from .resume import resume
from .setup import PretrainSetup, check_corpus_not_empty, setup_pretraining

__all__ = ["PretrainResult", "pretrain", "setup_pretraining", "train_step"]


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
    progress = sys.stderr.isatty() if progress is None else progress
    output_dir = Path(output_dir)
    setup = setup_pretraining(config, use_gpu=use_gpu, where=where)
    check_corpus_not_empty(setup)
    if strategy.is_main:
        output_dir.mkdir(parents=True, exist_ok=True)
    P = setup.settings
    tracker = ProgressTracker()
    config_text = Config(config).to_str()
    writer = OutputWriter(setup, output_dir, tracker, config_text, strategy, keep_states=keep_states)
    strategy.sync_weights([setup.objective.model])  # same seed, same weights; made certain
    strategy.reseed(setup.seed, 0)
    start_epoch, skip = 0, 0
    if resume_path is not None:
        start_epoch, skip = resume(setup, Path(resume_path), epoch_resume, tracker, writer, printer)
        strategy.check_identical([setup.objective.model], f"the resume from {Path(resume_path).name}")
    tracker.run_start = tracker.last_time = time.perf_counter()
    _print_header(printer, setup, start_epoch)
    position = Position(start_epoch - 1, None)  # moved on by _run_epochs, read when stopping
    failed = False
    try:
        _run_epochs(setup, strategy, writer, tracker, printer, position, start_epoch, skip, progress)
    except BaseException:
        failed = True
        raise
    finally:
        # Also after an interruption (resumable), but not before anything was trained.
        # After an error other ranks may be gone: rank 0 writes without asking them.
        if not skip_last and writer.schedule_steps > 0:
            writer.save(LAST, position, P["max_epochs"], collective=not failed or strategy.world_size == 1)
    return PretrainResult(
        output_dir=output_dir,
        saved=writer.saved,
        words=tracker.run_words,
        words_per_second=tracker.words_per_second,
        start_epoch=start_epoch,
        end_epoch=max(position.epoch, start_epoch),
    )


def _print_header(printer: Printer, setup: PretrainSetup, start_epoch: int) -> None:
    P = setup.settings
    what = "masked-LM" if setup.objective.kind == "masked-lm" else "tok2vec layer"
    saving = f" - saving every {P['n_save_epoch']} epoch" if P["n_save_epoch"] else ""
    printer.divider(f"Pre-training {what} - starting at epoch {start_epoch}{saving}")
    printer.row(HEADER, **ROW_SETTINGS)


def _run_epochs(
    setup: PretrainSetup,
    strategy: LocalStrategy,
    writer: OutputWriter,
    tracker: ProgressTracker,
    printer: Printer,
    position: Position,
    start_epoch: int,
    skip: int,
    progress: bool,
) -> None:
    """Epochs ``start_epoch`` on, the first one without its first ``skip`` batches (trained on
    before an interruption); ``position`` follows along."""
    P = setup.settings
    for epoch in range(start_epoch, P["max_epochs"]):
        bar = progress_bar(epoch, progress)
        position.epoch, position.batches_done = epoch, 0
        for batch_id, batch in enumerate(P["batcher"](iter_docs(setup.corpus, setup.nlp))):
            if batch_id < skip:
                continue
            docs: List[Doc] = list(batch)
            loss = train_step(setup, docs, strategy)
            setup.optimizer.step_schedules()
            writer.schedule_steps += 1
            position.batches_done = batch_id + 1
            n_words = sum(len(d) for d in docs)
            bar.update(n_words)
            row = tracker.update(epoch, loss, n_words)
            if row:
                with bar.external_write_mode(file=sys.stdout):
                    printer.row(row, **ROW_SETTINGS)
            if P["n_save_every"] and batch_id % P["n_save_every"] == 0:
                writer.save(f"model{epoch}.temp", position, epoch)
        bar.close()
        skip = 0
        position.batches_done = None
        if not P["n_save_epoch"] or epoch % P["n_save_epoch"] == 0 or epoch == P["max_epochs"] - 1:
            writer.save(f"model{epoch}", position, epoch)
        tracker.epoch_loss = 0.0
