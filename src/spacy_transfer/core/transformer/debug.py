"""spacy-transformers' memory knobs and debug logging, honoured by ``TransformerModel``:
``attrs["flush_cache_chance"]`` (empty the CUDA cache before a pass with that probability)
and ``set_logger(model, file)`` (log GPU memory and batch shapes on each forward pass)."""

from __future__ import annotations

import logging
import random
from typing import Any, Dict, List, TextIO


def maybe_flush_pytorch_cache(chance: float = 1.0) -> None:
    """Empty the CUDA cache with probability ``chance`` (a no-op without a GPU)."""
    import torch

    if random.random() < chance and torch.cuda.is_available():
        torch.cuda.empty_cache()


def set_logger(model: Any, out_file: TextIO) -> None:
    """Log, on each forward pass of ``model``, the GPU memory in use and the batch's shape."""
    logger = logging.getLogger("spacy_transfer.transformer")
    if not any(getattr(h, "stream", None) is out_file for h in logger.handlers):  # one line per message
        handler = logging.StreamHandler(out_file)
        handler.setFormatter(logging.Formatter("%(asctime)s:%(levelname)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    model.attrs["logger"] = logger


def before_pass(attrs: Dict[str, Any], row_lengths: List[int], is_train: bool) -> None:
    """What a TransformerModel's attrs ask for before its forward passes."""
    chance = float(attrs.get("flush_cache_chance") or 0.0)
    if chance > 0:  # drawn only when asked for: the default leaves Python's RNG alone
        maybe_flush_pytorch_cache(chance)
    logger = attrs.get("logger")
    if logger is not None:
        log_gpu_memory(logger, "begin forward")
        longest = max(row_lengths, default=0)
        logger.info(f"{'train' if is_train else 'predict'} batch: {len(row_lengths)} rows, longest {longest}")


def log_gpu_memory(logger: Any, context: str) -> None:
    import torch

    if torch.cuda.is_available():
        logger.info(f"{torch.cuda.memory_allocated() / 1024**2:.1f} MiB allocated: {context}")


def log_batch_size(logger: Any, token_data: Any, is_train: bool) -> None:
    shape = getattr(getattr(token_data, "input_ids", None), "shape", None)
    logger.info(f"{'train' if is_train else 'predict'} batch: {shape}")


__all__ = ["before_pass", "maybe_flush_pytorch_cache", "set_logger", "log_gpu_memory", "log_batch_size"]
