"""Registries that spaCy lacks and spacy-transformers used to add.

``span_getters`` and ``annotation_setters`` live on spaCy's own registry object, so
``@span_getters = ...`` in a config and ``spacy.util.registry.span_getters(...)`` in user
code both work, with entry points (``spacy_span_getters`` ...) for lazy loading.
"""

from __future__ import annotations

from spacy import util

# ``adapters``: parameter-efficient fine-tuning blocks (``@adapters = "spacy-transfer.LoRA.v1"``).
for _name in ("span_getters", "annotation_setters", "adapters"):
    if not hasattr(util.registry, _name):
        util.registry.create(_name, entry_points=True)

registry = util.registry

# The factory of spacy-transfer's transformer component. spacy-transformers' ``transformer``
# builds the same component where spacy-transfer serves that name (``spacy_transfer.compat``);
# this one is ours alone, so pipelines that use it load beside an installed spacy-transformers.
TRANSFORMER_FACTORY = "transfer_transformer"
# Both names, for code that looks for "the transformer component" of a config or pipeline.
TRANSFORMER_FACTORIES = (TRANSFORMER_FACTORY, "transformer")

__all__ = ["registry", "TRANSFORMER_FACTORY", "TRANSFORMER_FACTORIES"]
