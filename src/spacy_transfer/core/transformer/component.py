"""The transformer pipeline component (factory ``transfer_transformer``; spacy-transformers'
``transformer`` builds the same component where spacy-transfer serves that name).

It runs its model (usually ``spacy-transfer.TransformerModel.v1``) over batches of
Docs, sets ``doc._.trf_data`` (a :class:`~.data.TransformerData`) and calls
``set_extra_annotations(docs, batch)``. During ``update`` it hands its outputs to every
``TransformerListener`` downstream (the pattern of spaCy's ``Tok2Vec``); their
gradients are summed and sent through the transformer once per batch, when the last
listener has reported (or, if a listener never does, at the next update). With
``nlp.update`` the optimizer step for this component is deferred until then, so the
transformer learns from the same batch, not the next one.

``frozen = true`` (or the component in ``[training] frozen_components``) makes it an
annotator: no gradients, weights bit-identical, listeners read ``doc._.trf_data``.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Union

import srsly
from spacy import util
from spacy.language import Language
from spacy.pipeline.trainable_pipe import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer

from ...errors import UserError
from ...registry import TRANSFORMER_FACTORY
from . import annotation_setters as _annotation_setters  # noqa: F401
from . import (
    architectures,  # noqa: F401  (registers the default config's names)
)
from . import span_getters as _span_getters  # noqa: F401
from .annotation_setters import null_annotation_setter
from .data import DOC_EXT_ATTR, FullTransformerBatch, doc_gradients, install_extensions
from .listener import DocGrads, TransformerListener
from .mixing import squared_norm
from .model_files import hf_shims, load_model_bytes, load_model_dir, save_model_dir
from .vectors import set_vectors, vector_settings

DEFAULT_CONFIG_STR = """
[transformer]
max_batch_items = 4096
frozen = false
quantize = null
doc_vectors = false
vector_pooling = "mean"
normalize_vectors = false

[transformer.set_extra_annotations]
@annotation_setters = "spacy-transfer.null_annotation_setter.v1"

[transformer.model]
@architectures = "spacy-transfer.TransformerModel.v1"
name = "roberta-base"
tokenizer_config = {"use_fast": true}
transformer_config = {}
mixed_precision = false
grad_scaler_config = {}

[transformer.model.get_spans]
@span_getters = "spacy-transfer.strided_spans.v1"
window = 128
stride = 96
"""
DEFAULT_CONFIG = Config().from_str(DEFAULT_CONFIG_STR)
ASSIGNS = [f"doc._.{DOC_EXT_ATTR}"]


@Language.factory(TRANSFORMER_FACTORY, assigns=ASSIGNS, default_config=DEFAULT_CONFIG["transformer"])
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
) -> "Transformer":
    """A Hugging Face transformer shared by downstream components through listeners.
    ``quantize = "int8"``: CPU prediction with int8 dynamic quantization (training stays fp32).
    ``doc_vectors = true``: ``doc.tensor`` and contextual ``.vector`` / ``.similarity()`` on Doc,
    Span and Token, pooled by ``vector_pooling`` ("mean", "cls", "max"), unit length with
    ``normalize_vectors`` (:mod:`.vectors`)."""
    return Transformer(
        nlp.vocab,
        model,
        set_extra_annotations,
        name=name,
        max_batch_items=max_batch_items,
        frozen=frozen,
        quantize=quantize,
        doc_vectors=doc_vectors,
        vector_pooling=vector_pooling,
        normalize_vectors=normalize_vectors,
    )


class _PendingUpdate:
    """Gradients collected from listeners for one batch, sent through the model once."""

    def __init__(
        self,
        component: "Transformer",
        backprop: Callable,
        n_expected: int,
        sgd: Optional[Optimizer],
        losses: Dict[str, float],
    ):
        self.component = component
        self.backprop = backprop
        self.n_expected = n_expected
        self.received = 0
        self.sgd = sgd
        self.losses = losses
        self.grads: Optional[DocGrads] = None
        self.done = False

    def receive(self, d_docs: Sequence[Any]) -> List[Doc]:
        grads = doc_gradients(d_docs)
        if self.grads is None:
            self.grads = grads
        else:
            self.grads = [g if a is None else (a if g is None else a + g) for a, g in zip(self.grads, grads)]
        loss = sum(squared_norm(g) for g in grads if g is not None)
        self.losses[self.component.name] = self.losses.get(self.component.name, 0.0) + loss
        self.received += 1
        if self.received >= self.n_expected:
            self.flush()
        return []

    def flush(self) -> None:
        if self.done:
            return
        self.done = True
        if self.grads is not None and any(g is not None for g in self.grads):
            self.backprop(self.grads)
        self.grads = None
        if self.sgd not in (None, False):
            self.component.model.finish_update(self.sgd)


class Transformer(TrainablePipe):
    """Runs a transformer, stores its outputs on ``doc._.trf_data``, feeds listeners."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model[List[Doc], FullTransformerBatch],
        set_extra_annotations: Callable = null_annotation_setter,
        *,
        name: str = "transformer",
        max_batch_items: int = 4096,
        frozen: bool = False,
        quantize: Optional[str] = None,
        doc_vectors: bool = False,
        vector_pooling: str = "mean",
        normalize_vectors: bool = False,
    ) -> None:
        if not isinstance(model, Model):
            raise UserError(f"The transformer component needs a thinc Model, got {type(model).__name__}")
        if max_batch_items < 1:
            raise UserError(
                f"max_batch_items must be positive, got {max_batch_items}",
                hint="Use e.g. max_batch_items = 4096.",
            )
        self.vocab = vocab
        self.model = model
        self.name = name
        self.set_extra_annotations = set_extra_annotations
        if quantize not in (None, "int8"):
            raise UserError(
                f'quantize must be null or "int8", got {quantize!r}',
                rows=[("[components.transformer] quantize", repr(quantize))],
                hint='Use quantize = "int8" for faster CPU prediction, or leave it out.',
            )
        # spacy-transformers' cfg, key for key; `frozen` is the factory's setting (in the
        # pipeline's config.cfg), and `quantize` a load-time choice: neither is saved here.
        self.cfg: Dict[str, Any] = {"max_batch_items": int(max_batch_items)}
        self._frozen = bool(frozen)
        self.quantize = quantize
        self.vectors = vector_settings(doc_vectors, vector_pooling, normalize_vectors, f"[components.{name}]")
        self.listener_map: Dict[str, List[TransformerListener]] = {}
        self._pending: Optional[_PendingUpdate] = None
        self._apply_cfg()
        install_extensions()

    def _apply_cfg(self) -> None:
        # Pipelines saved before `frozen` left the cfg keep the setting they were saved with.
        self._frozen = bool(self.cfg.pop("frozen", self._frozen))
        for node in self.model.walk():
            if "max_batch_items" in node.attrs:
                node.attrs["max_batch_items"] = self.cfg["max_batch_items"]
        for shim in hf_shims(self.model):
            shim.quantize = self.quantize

    @property
    def frozen(self) -> bool:
        return self._frozen

    # ------------------------------------------------------------------ listeners
    @property
    def listeners(self) -> List[TransformerListener]:
        return [m for c in self.listening_components for m in self.listener_map[c]]

    @property
    def listening_components(self) -> List[str]:
        return list(self.listener_map.keys())

    def add_listener(self, listener: TransformerListener, component_name: str) -> None:
        self.listener_map.setdefault(component_name, [])
        if listener not in self.listener_map[component_name]:
            self.listener_map[component_name].append(listener)
        if self.model.has_dim("nO") and listener.has_dim("nO") is None:
            listener.set_dim("nO", self.model.get_dim("nO"))

    def remove_listener(self, listener: TransformerListener, component_name: str) -> bool:
        if listener in self.listener_map.get(component_name, []):
            self.listener_map[component_name].remove(listener)
            if not self.listener_map[component_name]:
                del self.listener_map[component_name]
            return True
        return False

    def find_listeners(self, component: Any) -> None:
        """Register every TransformerListener in ``component`` whose upstream is ``*`` or our name."""
        names = ("*", self.name)
        if isinstance(getattr(component, "model", None), Model):
            for node in component.model.walk():
                if isinstance(node, TransformerListener) and node.upstream_name in names:
                    self.add_listener(node, component.name)

    # ------------------------------------------------------------------ prediction
    def __call__(self, doc: Doc) -> Doc:
        self.set_annotations([doc], self.predict([doc]))
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        for batch in util.minibatch(stream, batch_size):
            batch = list(batch)
            self.set_annotations(batch, self.predict(batch))
            yield from batch

    def predict(self, docs: Iterable[Doc]) -> FullTransformerBatch:
        docs = list(docs)
        if not docs:
            return FullTransformerBatch.empty(0)
        return self.model.predict(docs)

    def set_annotations(self, docs: Iterable[Doc], predictions: FullTransformerBatch) -> None:
        install_extensions()
        docs = list(docs)
        for doc, data in zip(docs, predictions.doc_data):
            doc._.set(DOC_EXT_ATTR, data)
            if self.vectors is not None:
                set_vectors(doc, data, self.vectors)
        self.set_extra_annotations(docs, predictions)

    # ------------------------------------------------------------------ training
    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        if losses is None:
            losses = {}
        examples = list(examples)
        validate_examples(examples, "Transformer.update")
        losses.setdefault(self.name, 0.0)
        if self._pending is not None:  # a listener never reported last time: use what came
            self._pending.flush()
            self._pending = None
        docs = [eg.predicted for eg in examples]
        if not docs:
            return losses
        batch_id = TransformerListener.get_batch_id(docs)
        if self.frozen:
            batch = self.predict(docs)
            self.set_annotations(docs, batch)
            for listener in self.listeners:
                listener.receive(batch_id, batch.doc_data, lambda d: [])
            return losses
        outputs, backprop = self.model.begin_update(docs)
        pending = _PendingUpdate(self, backprop, len(self.listeners), sgd, losses)
        self._pending = pending
        for listener in self.listeners:
            listener.receive(batch_id, outputs.doc_data, pending.receive)
        return losses

    def finish_update(self, sgd: Optimizer) -> None:
        if self.frozen:
            return
        pending = self._pending
        if pending is not None and not pending.done:
            # nlp.update calls this before the listeners have run; step once they have.
            pending.sgd = sgd
            return
        self.model.finish_update(sgd)

    def get_loss(self, examples: Iterable[Example], scores: Any) -> None:
        """No loss of its own: gradients come from listeners."""

    def initialize(
        self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None
    ) -> None:
        """Load the transformer weights (by name or from a folder) and wire listeners."""
        docs = [eg.predicted for eg in islice(get_examples(), 10)] if get_examples is not None else []
        self.model.initialize(X=docs or [Doc(self.vocab, words=["hello"])])
        if nlp is not None:
            self.listener_map = {}
            seen = False
            for _, proc in nlp.pipeline:
                if proc is self:
                    seen = True
                elif seen:
                    self.find_listeners(proc)
        self._set_listener_width()

    def _set_listener_width(self) -> None:
        if self.model.has_dim("nO"):
            for listener in self.listeners:
                listener.set_dim("nO", self.model.get_dim("nO"), force=True)

    def add_label(self, label: str) -> int:
        raise NotImplementedError("The transformer component has no labels")

    # ------------------------------------------------------------------ serialization
    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> None:
        serialize = {
            "cfg": lambda p: srsly.write_json(p, self.cfg),
            "model": lambda p: save_model_dir(self.model, p),
        }
        util.to_disk(path, serialize, exclude)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "Transformer":
        deserialize = {
            "cfg": lambda p: self.cfg.update(srsly.read_json(p)),
            "model": lambda p: load_model_dir(self.model, p),
        }
        util.from_disk(path, deserialize, exclude)
        self._apply_cfg()
        self._set_listener_width()
        return self

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        serialize = {"cfg": lambda: srsly.json_dumps(self.cfg), "model": lambda: self.model.to_bytes()}
        return util.to_bytes(serialize, exclude)

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "Transformer":
        deserialize = {
            "cfg": lambda b: self.cfg.update(srsly.json_loads(b)),
            "model": lambda b: load_model_bytes(self.model, b, f"the '{self.name}' component's bytes"),
        }
        util.from_bytes(bytes_data, deserialize, exclude)
        self._apply_cfg()
        self._set_listener_width()
        return self


__all__ = [
    "Transformer",
    "make_transformer",
    "DEFAULT_CONFIG",
    "save_model_dir",
    "load_model_dir",
    "load_model_bytes",
]
