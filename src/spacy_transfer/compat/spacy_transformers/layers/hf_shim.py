"""spacy-transformers' ``layers.hf_shim``: the shim that holds the Hugging Face encoder.

``HFShim`` is spacy-transfer's own (its constructor differs: the encoder is set when the
TransformerModel is initialized or loaded); ``shim._model`` is the ``PreTrainedModel``."""

from spacy.util import make_tempdir  # noqa: F401

from spacy_transfer.core.transformer.serialization import HFObjects  # noqa: F401
from spacy_transfer.core.transformer.shim import HFShim  # noqa: F401

__all__ = ["HFShim", "HFObjects", "make_tempdir"]
