"""Loading and saving the Hugging Face encoder + tokenizer: no pickle, no network for
saved pipelines.

On disk a transformer is a plain Hugging Face folder (``config.json``,
``model.safetensors``, tokenizer files), so it can also be opened with
``AutoModel.from_pretrained``. In bytes (``to_bytes``, or a transformer nested in
another component's model) it is a msgpack map of those same files.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import srsly

from ...errors import UserError

WEIGHTS_FILE = "model.safetensors"
ADAPTER_DIR = "adapter"  # peft's adapter files of an encoder saved with unmerged adapters


def auto_classes(classes: Optional[Tuple[Any, Any, Any]] = None) -> Tuple[Any, Any, Any]:
    """transformers' (config, model, tokenizer) Auto classes, each replaced by the one in
    ``classes`` that is not None (e.g. ``AutoModelForSequenceClassification``)."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    # Per-file progress bars and load reports are noise inside a pipeline.
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()

    auto = (AutoConfig, AutoModel, AutoTokenizer)
    return tuple(c or a for c, a in zip(classes or (None,) * 3, auto))  # type: ignore[return-value]


def load_pretrained(
    name: Union[str, Path],
    tokenizer_config: Dict[str, Any],
    transformer_config: Dict[str, Any],
    classes: Optional[Tuple[Any, Any, Any]] = None,
) -> Tuple[Any, Any]:
    """An encoder and its fast tokenizer by hub name or local folder (weights in float32).
    ``classes``: (config, model, tokenizer) classes instead of the Auto ones."""
    import torch

    AutoConfig, AutoModel, AutoTokenizer = auto_classes(classes)
    name = str(name)
    local = Path(name).expanduser()
    kwargs: Dict[str, Any] = {"local_files_only": True} if local.is_dir() else {}
    source = str(local) if local.is_dir() else name
    _check_local_name(name, local)
    tok_cfg = dict(tokenizer_config)
    if tok_cfg.pop("use_fast", True) is False:
        warnings.warn(
            "tokenizer_config use_fast = false is ignored: alignment needs a fast tokenizer's offsets",
            stacklevel=2,
        )
    try:
        config = AutoConfig.from_pretrained(source, **kwargs, **transformer_config)
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs, **tok_cfg)
        model = AutoModel.from_pretrained(
            source, config=config, dtype=torch.float32, **attention_for(config), **kwargs
        )
    except (OSError, ValueError, EnvironmentError) as err:
        raise UserError(
            f"Could not load the transformer '{name}'",
            hint="Give a local folder with config.json, weights and tokenizer files, or a Hugging Face hub "
            "name that is cached or reachable (set HF_HUB_OFFLINE=1 to use the cache only).",
            rows=[("model.name", str(err).splitlines()[0][:200])]
            + (
                [("local folder", f"{local} does not exist either")]
                if "/" in name and not local.exists()
                else []
            ),
        ) from err
    return model, check_tokenizer(tokenizer, name)


def attention_for(config: Any) -> Dict[str, Any]:
    """Eager attention for a model asked for its attention weights (``output_attentions``):
    the fused implementations return none, and transformers refuses to save such a model."""
    return {"attn_implementation": "eager"} if getattr(config, "output_attentions", False) else {}


@dataclass
class HFObjects:
    """spacy-transformers' bundle of a loaded encoder: tokenizer, model, the vocab file's bytes
    (None for tokenizers without one) and the configs it was loaded with."""

    tokenizer: Any
    transformer: Any
    vocab_file_contents: Optional[bytes]
    _init_tokenizer_config: Dict[str, Any] = field(default_factory=dict)
    _init_transformer_config: Dict[str, Any] = field(default_factory=dict)


def load_hf_objects(
    source: Union[str, Path],
    tokenizer_config: Dict[str, Any],
    transformer_config: Dict[str, Any],
    classes: Optional[Tuple[Any, Any, Any]] = None,
) -> HFObjects:
    """:func:`load_pretrained`, as spacy-transformers' ``huggingface_from_pretrained`` returns it."""
    model, tokenizer = load_pretrained(source, tokenizer_config, transformer_config, classes)
    vocab_file = getattr(tokenizer, "vocab_file", None)
    contents = Path(vocab_file).read_bytes() if vocab_file and Path(vocab_file).is_file() else None
    return HFObjects(tokenizer, model, contents, dict(tokenizer_config), dict(transformer_config))


def _looks_like_path(name: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else with a path shape is a folder.
    return name.startswith((".", "/", "~", "\\")) or name.count("/") > 1 or "\\" in name


def _check_local_name(name: str, local: Path) -> None:
    """A name that is (or looks like) a local folder: it must exist and be a model folder."""
    if local.is_file():
        raise UserError(
            f"The transformer name '{name}' is a file, not a model folder",
            rows=[("model.name", f"{local} is a file")],
            hint="Give the folder that holds config.json, the weights and the tokenizer files.",
        )
    if local.is_dir():
        if not (local / "config.json").exists():
            raise UserError(
                f"The transformer folder '{name}' has no config.json",
                rows=[
                    (
                        "model.name",
                        f"{local} holds: {', '.join(sorted(p.name for p in local.iterdir())[:8]) or 'nothing'}",
                    )
                ],
                hint="Give a folder written by save_pretrained (config.json, weights, tokenizer files).",
            )
        return
    if _looks_like_path(name):
        parent = next((p for p in local.parents if p.exists()), None)
        raise UserError(
            f"The transformer folder '{name}' does not exist",
            rows=[
                (
                    "model.name",
                    f"{local} does not exist"
                    + (f" (the nearest existing folder is {parent})" if parent else ""),
                )
            ],
            hint="Check the path (relative paths start from where you run the command), or give a "
            "Hugging Face hub name such as 'roberta-base'.",
        )


def check_tokenizer(tokenizer: Any, name: str) -> Any:
    if not getattr(tokenizer, "is_fast", False) or getattr(tokenizer, "backend_tokenizer", None) is None:
        raise UserError(
            f"The tokenizer of '{name}' is not a fast (Rust) tokenizer",
            hint="Token alignment needs offset mappings: use a model folder that has a tokenizer.json.",
        )
    return tokenizer


def save_dir(model: Any, tokenizer: Any, path: Union[str, Path], merge_adapters: bool = True) -> None:
    """Write ``model`` and ``tokenizer`` as a Hugging Face folder (safetensors weights). An
    encoder with LoRA adapters is written merged, or unmerged with peft's adapter files in
    ``adapter/`` (not beside config.json, where transformers would take the folder for an adapter)."""
    from . import adapters

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if adapters.has_adapters(model):
        adapters.save(model, path, ADAPTER_DIR, merged=merge_adapters)
    else:
        model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)


def load_dir(path: Union[str, Path]) -> Tuple[Any, Any]:
    """Read a folder written by :func:`save_dir`: local files only, safetensors only."""
    import torch

    AutoConfig, AutoModel, AutoTokenizer = auto_classes()
    path = Path(path)
    if not (path / "config.json").exists():
        raise UserError(
            f"No transformer found in {path}",
            hint="The folder should hold config.json, model.safetensors and tokenizer files; re-save the pipeline.",
        )
    config = AutoConfig.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(
        path,
        config=config,
        local_files_only=True,
        use_safetensors=True,
        dtype=torch.float32,
        **attention_for(config),
    )
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if (path / ADAPTER_DIR).is_dir():
        from . import adapters

        adapters.load(model, path / ADAPTER_DIR)
    return model, check_tokenizer(tokenizer, str(path))


def to_bytes(model: Any, tokenizer: Any, merge_adapters: bool = True) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        save_dir(model, tokenizer, tmp, merge_adapters=merge_adapters)
        msg = {"hf_files": _files(Path(tmp))}
        if (Path(tmp) / ADAPTER_DIR).is_dir():
            msg["adapter_files"] = _files(Path(tmp) / ADAPTER_DIR)
    return srsly.msgpack_dumps(msg)


def _files(folder: Path) -> Dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def from_bytes(data: bytes) -> Tuple[Any, Any]:
    return from_message(srsly.msgpack_loads(data))


def from_message(msg: Dict[str, Any]) -> Tuple[Any, Any]:
    """Encoder and tokenizer from the decoded map :func:`to_bytes` writes."""
    with tempfile.TemporaryDirectory() as tmp:
        write_files(tmp, msg["hf_files"], "transformer data")
        if msg.get("adapter_files"):
            (Path(tmp) / ADAPTER_DIR).mkdir()
            write_files(Path(tmp) / ADAPTER_DIR, msg["adapter_files"], "adapter data")
        return load_dir(tmp)


def write_files(folder: Union[str, Path], files: Dict[str, Any], source: str) -> None:
    """Write ``{file name: bytes}`` into ``folder``; names are plain file names, nothing else."""
    for name, content in files.items():
        if not isinstance(name, str) or "/" in name or name.startswith(".") or not isinstance(content, bytes):
            raise UserError(f"Corrupt {source}: unexpected file entry", rows=[("file", str(name)[:80])])
        (Path(folder) / name).write_bytes(content)


# ------------------------------------------------------------------- other libraries' formats

# Readers of a shim message in another library's format, registered by the code that serves
# its names (``spacy_transfer.compat``): each returns (model, tokenizer), ``EMPTY`` (a model
# saved before it had weights), or None (not its format).
EMPTY = ("empty",)
ForeignReader = Callable[[Dict[str, Any], str], Optional[Tuple[Any, ...]]]
FOREIGN_READERS: List[ForeignReader] = []


def register_reader(reader: ForeignReader) -> None:
    if reader not in FOREIGN_READERS:
        FOREIGN_READERS.append(reader)


def read_foreign(msg: Dict[str, Any], source: str = "the pipeline") -> Optional[Tuple[Any, ...]]:
    """What the first registered reader that knows ``msg``'s format makes of it, or None."""
    for reader in FOREIGN_READERS:
        found = reader(msg, source)
        if found is not None:
            return found
    return None


__all__ = [
    "EMPTY",
    "read_foreign",
    "register_reader",
    "from_message",
    "write_files",
    "load_pretrained",
    "save_dir",
    "load_dir",
    "to_bytes",
    "from_bytes",
    "WEIGHTS_FILE",
]
