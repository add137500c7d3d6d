"""spacy-transformers' ``pipeline_component`` module, backed by spacy-transfer: the
``transformer`` factory, with spacy-transformers' default config name for name.

spaCy merges a factory's defaults into a model block only when the block names the same
architecture, so with this default a config or ``add_pipe`` call that gives
``spacy-transformers.TransformerModel.v3`` and only a ``name`` is filled exactly as
spacy-transformers fills it (strided spans 128/96, ``use_fast``). A block naming
``spacy-transfer.TransformerModel.v1`` builds the same component.
"""

from typing import Callable, List, Optional

from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import Config, Model

from spacy_transfer.core.transformer import component as core
from spacy_transfer.core.transformer.annotation_setters import null_annotation_setter  # noqa: F401
from spacy_transfer.core.transformer.component import ASSIGNS, Transformer
from spacy_transfer.core.transformer.data import (  # noqa: F401
    DOC_EXT_ATTR,
    FullTransformerBatch,
    TransformerData,
    install_extensions,
)
from spacy_transfer.core.transformer.listener import TransformerListener  # noqa: F401

from . import annotation_setters, architectures, span_getters  # noqa: F401  (the default config's names)
from .layers.transformer_model import huggingface_from_pretrained  # noqa: F401
from .util import batch_by_length  # noqa: F401


def _with_spacy_transformers_names(config: Config) -> Config:
    """spacy-transfer's defaults under spacy-transformers' registered names."""
    config = config.copy()
    config["transformer"]["model"]["@architectures"] = "spacy-transformers.TransformerModel.v3"
    config["transformer"]["model"]["get_spans"]["@span_getters"] = "spacy-transformers.strided_spans.v1"
    config["transformer"]["set_extra_annotations"]["@annotation_setters"] = (
        "spacy-transformers.null_annotation_setter.v1"
    )
    return config


DEFAULT_CONFIG = _with_spacy_transformers_names(core.DEFAULT_CONFIG)
DEFAULT_CONFIG_STR = DEFAULT_CONFIG.to_str()


@Language.factory("transformer", assigns=ASSIGNS, default_config=DEFAULT_CONFIG["transformer"])
def make_transformer(
    nlp: Language,
    name: str,
    model: Model[List[Doc], FullTransformerBatch],
    set_extra_annotations: Callable[[List[Doc], FullTransformerBatch], None],
    max_batch_items: int,
    frozen: bool = False,
    quantize: Optional[str] = None,
    doc_vectors: bool = False,
    vector_pooling: str = "mean",
    normalize_vectors: bool = False,
) -> Transformer:
    """spacy-transformers' ``transformer`` factory: spacy-transfer's component (the same
    settings as ``transfer_transformer``; spaCy reads each factory's settings from its signature)."""
    return core.make_transformer(
        nlp,
        name,
        model,
        set_extra_annotations,
        max_batch_items,
        frozen,
        quantize,
        doc_vectors,
        vector_pooling,
        normalize_vectors,
    )


__all__ = [
    "Transformer",
    "make_transformer",
    "DEFAULT_CONFIG",
    "DEFAULT_CONFIG_STR",
    "DOC_EXT_ATTR",
    "install_extensions",
    "huggingface_from_pretrained",
]
