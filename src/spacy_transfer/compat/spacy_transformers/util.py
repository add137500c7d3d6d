"""spacy-transformers' ``util`` module, backed by spacy-transfer.

``registry`` is spaCy's registry with the ``span_getters`` and ``annotation_setters``
tables (what public ``--code`` files import); the helpers behave as in 1.4.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple, Union

from spacy.util import make_tempdir  # noqa: F401  (spacy-transformers' own was the same)

from spacy_transfer.core.transformer.debug import log_batch_size, log_gpu_memory, maybe_flush_pytorch_cache  # noqa: F401
from spacy_transfer.registry import registry


def huggingface_from_pretrained(source: Union[Path, str], config: Dict[str, Any]) -> Tuple[Any, Any]:
    """(tokenizer, model) for a hub name or local folder (deprecated in 1.4 as well)."""
    from spacy_transfer.core.transformer.serialization import load_pretrained

    warnings.warn(
        "spacy_transformers.util.huggingface_from_pretrained is deprecated; the pipeline loads weights itself",
        DeprecationWarning,
        stacklevel=2,
    )
    model, tokenizer = load_pretrained(str(source), dict(config), {})
    return tokenizer, model


def tokenize(tokenizer: Any, texts: List[str]) -> Any:
    """Tokenize ``texts`` as spacy-transformers did: padded NumPy arrays, offsets from a fast
    tokenizer, and ``input_texts`` (the wordpiece strings) and ``pad_token`` added."""
    token_data = tokenizer(
        texts,
        add_special_tokens=True,
        return_attention_mask=True,
        return_offsets_mapping=bool(getattr(tokenizer, "is_fast", False)),
        return_tensors="np",
        return_token_type_ids=None,
        padding="longest",
    )
    token_data["input_texts"] = [
        tokenizer.convert_ids_to_tokens(list(ids)) for ids in token_data["input_ids"]
    ]
    token_data["pad_token"] = tokenizer.pad_token
    return token_data


def huggingface_tokenize(tokenizer: Any, texts: List[str]) -> Any:
    """:func:`tokenize`, under the name spacy-transformers deprecated here (it moved to
    ``layers.transformer_model.huggingface_tokenize``)."""
    warnings.warn(
        "spacy_transformers.util.huggingface_tokenize has been moved to "
        "spacy_transformers.layers.transformer_model.huggingface_tokenize",
        DeprecationWarning,
        stacklevel=2,
    )
    return tokenize(tokenizer, texts)


def transpose_list(nested_list: Sequence[Sequence[Any]]) -> List[List[Any]]:
    return [list(row) for row in zip(*nested_list)]


def batch_by_length(seqs: Sequence[Sequence[Any]], max_words: int) -> List[List[int]]:
    """Indices of ``seqs`` in batches of about ``max_words`` padded items, longest first."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]), reverse=True)
    batches: List[List[int]] = []
    for i in order:
        if batches and (len(batches[-1]) + 1) * len(seqs[batches[-1][0]]) <= max_words:
            batches[-1].append(i)
        else:
            batches.append([i])
    for batch in batches:
        batch.sort()
    batches.reverse()
    return batches


__all__ = [
    "registry",
    "huggingface_from_pretrained",
    "huggingface_tokenize",
    "maybe_flush_pytorch_cache",
    "transpose_list",
    "batch_by_length",
    "log_gpu_memory",
    "log_batch_size",
    "make_tempdir",
]
