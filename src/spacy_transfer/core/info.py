"""What ``spacy-transfer info`` reports: versions, device, registered names."""

from __future__ import annotations

import importlib.metadata
from typing import Dict, List, Tuple

from spacy import util

from ..registry import TRANSFORMER_FACTORIES

PACKAGES = (
    "spacy-transfer",
    "spacy",
    "thinc",
    "torch",
    "transformers",
    "tokenizers",
    "numpy",
    "cupy-cuda12x",
    "gensim",
    "peft",
    "spacy-transformers",
)
# Which registries to list, and which names in them belong to this toolchain's topic.
REGISTRIES = (
    "factories",
    "architectures",
    "layers",
    "span_getters",
    "annotation_setters",
    "adapters",
    "readers",
)
OUR_PREFIXES = ("spacy-transfer.", "spacy-transformers.")
SPACY_TOPIC = (
    "spacy.Tok2Vec",
    "spacy.MultiHashEmbed",
    "spacy.Tok2VecListener",
    "spacy.StaticVectors",
    "spacy.Pretrain",
    "spacy.MaxoutWindowEncoder",
    "spacy.CharacterEmbed",
    "spacy.MishWindowEncoder",
    "spacy.TorchBiLSTMEncoder",
)


def versions() -> List[Tuple[str, str]]:
    rows = []
    for pkg in PACKAGES:
        try:
            rows.append((pkg, importlib.metadata.version(pkg)))
        except importlib.metadata.PackageNotFoundError:
            if pkg in ("spacy-transfer", "spacy", "thinc", "torch", "transformers"):
                rows.append((pkg, "not installed"))
    return rows


def device_rows() -> List[Tuple[str, str]]:
    import torch

    rows = [("torch CUDA available", str(torch.cuda.is_available()))]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            rows.append((f"GPU {i}", torch.cuda.get_device_name(i)))
        rows.append(("CUDA (torch build)", str(torch.version.cuda)))
    try:
        import cupy  # noqa: F401

        rows.append(("cupy", "importable"))
    except Exception:
        rows.append(("cupy", "not installed (pip install 'spacy-transfer[cuda12x]')"))
    rows.append(("CPU threads (torch)", str(torch.get_num_threads())))
    return rows


def _is_ours(registry_name: str, name: str) -> bool:
    if registry_name in ("span_getters", "annotation_setters", "adapters"):
        return True
    if registry_name == "factories":
        return name in (*TRANSFORMER_FACTORIES, "tok2vec")
    if registry_name == "layers":
        return name.startswith(OUR_PREFIXES) or name.startswith(("reduce_", "spacy.StaticVectors"))
    return name.startswith(OUR_PREFIXES) or name.startswith(SPACY_TOPIC)


def registered_names() -> Dict[str, List[str]]:
    """Names relevant to embeddings and transfer learning, grouped by registry."""
    util.registry.ensure_populated()
    import spacy.pipeline  # noqa: F401  (registers the built-in factories)

    out: Dict[str, List[str]] = {}
    for reg_name in REGISTRIES:
        reg = getattr(util.registry, reg_name, None)
        if reg is None:
            continue
        out[reg_name] = sorted(n for n in reg.get_all() if _is_ours(reg_name, n))
    return out
