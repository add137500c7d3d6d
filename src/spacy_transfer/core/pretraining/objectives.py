"""The tok2vec pretraining objectives and the masking around them.

spaCy's objective builders (``spacy.PretrainCharacters.v1``, ``spacy.PretrainVectors.v1``)
return ``masked_lm(chain(tok2vec, output_layer))`` with the loss in ``attrs["loss"]``.
We keep their output layers and losses and replace only the masking: spaCy draws masks
from numpy's global generator and caches random replacement words inside a closure, so
its state cannot be saved and a resumed run would mask differently. :class:`TokenMasker`
draws from its own seeded generator whose state goes into the checkpoint. The rule is
spaCy's (and BERT's): each token is picked with ``mask_prob``; a picked token becomes
``[MASK]`` 80% of the time, a random vocabulary word 10%, stays itself 10%; the loss
gradient flows only from picked tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy
from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import Model, Optimizer, set_dropout_rate

from ...errors import UserError
from .target import SAMPLE_TEXT, PretrainTarget

MASK = "[MASK]"
Loss = Callable[[Any, List[Doc], Any], Tuple[float, Any]]


class TokenMasker:
    """BERT-style token masking with a generator whose state can be saved."""

    def __init__(self, vocab: Any, *, mask_prob: float = 0.15, seed: Optional[int] = 0, n_words: int = 10000) -> None:
        self.mask_prob = mask_prob
        self.rng = numpy.random.default_rng(seed)
        # As spaCy: replacement words are the vocab's first lexemes with a probability,
        # drawn in proportion to exp(prob).
        lexemes = [lex for lex in vocab if lex.prob != 0.0][:n_words]
        self.words = [lex.text for lex in lexemes] or [MASK]
        probs = numpy.exp(numpy.asarray([lex.prob for lex in lexemes] or [0.0], dtype="f8"))
        self.probs = probs / probs.sum()

    def __call__(self, docs: List[Doc]) -> Tuple[numpy.ndarray, List[Doc]]:
        """Masked copies of ``docs`` and a per-token flag: True where the token was picked."""
        n = sum(len(doc) for doc in docs)
        picked = self.rng.random(n) < self.mask_prob
        roll = self.rng.random(n)
        n_random = int((picked & (roll >= 0.8) & (roll < 0.9)).sum())
        random_words = iter(self.rng.choice(len(self.words), n_random, p=self.probs).tolist()) if n_random else iter(())
        masked: List[Doc] = []
        i = 0
        for doc in docs:
            words = [t.text for t in doc]
            for j in numpy.flatnonzero(picked[i : i + len(doc)]).tolist():
                r = roll[i + j]
                if r < 0.8:
                    words[j] = MASK
                elif r < 0.9:
                    words[j] = self.words[next(random_words)]
            masked.append(Doc(doc.vocab, words=words, spaces=[bool(t.whitespace_) for t in doc]))
            i += len(doc)
        return picked, masked

    def get_state(self) -> Dict[str, Any]:
        return self.rng.bit_generator.state

    def set_state(self, state: Dict[str, Any]) -> None:
        self.rng.bit_generator.state = state


@dataclass
class Tok2VecObjective:
    """A tok2vec layer with an output layer, its loss and its masking."""

    model: Model  # chain(tok2vec, output_layer): everything the optimizer updates
    target: PretrainTarget
    loss: Loss
    masker: Optional[TokenMasker]
    kind: str = "tok2vec"
    extra: Dict[str, Any] = field(default_factory=dict)

    def update(self, docs: List[Doc], optimizer: Optimizer) -> float:
        if self.masker is not None:
            picked, inputs = self.masker(docs)
        else:
            picked, inputs = None, docs
        predictions, backprop = self.model.begin_update(inputs)
        # The targets come from the original docs: the masked copies lost the words.
        loss, d_predictions = self.loss(self.model.ops, docs, predictions)
        if picked is not None:
            d_predictions *= self.model.ops.asarray(picked.astype("f")).reshape((-1, 1))
        backprop(d_predictions)
        self.model.finish_update(optimizer)
        return float(loss)

    def weights_bytes(self, optimizer: Optimizer) -> bytes:
        """What ``init_tok2vec`` loads: the layer's averaged weights (as spaCy saves them)."""
        with self.model.use_params(optimizer.averages or {}):
            return self.target.model.to_bytes()

    def load_weights(self, data: bytes, *, where: str) -> None:
        """Load a weights file into the layer (checked): resuming without a state."""
        from .weights import load_weights

        load_weights(self.target, data, where=where)


def build_tok2vec_objective(
    nlp: Language, target: PretrainTarget, create: Callable[[Any, Model], Model], *, dropout: float, seed: Optional[int], objective_name: str
) -> Tok2VecObjective:
    try:
        built = create(nlp.vocab, target.model)
    except ValueError as e:
        if "E875" in str(e):
            raise UserError(
                "The vectors objective needs word vectors, but the pipeline has none",
                rows=[("[pretraining.objective]", objective_name), ("[initialize] vectors", "null or an empty table")],
                hint="Set [initialize] vectors / '--paths.vectors' to a vectors pipeline (spacy-transfer init vectors), "
                "or use the objective spacy.PretrainCharacters.v1.",
            ) from e
        if "E906" in str(e):
            raise UserError(f"Unknown loss for {objective_name}", rows=[("[pretraining.objective] loss", " ".join(str(e).split()))],
                            hint="Use loss = \"cosine\" or loss = \"L2\".") from e
        raise
    loss = built.attrs.get("loss")
    if not callable(loss):
        raise UserError(f"The objective {objective_name} built a model without a loss",
                        hint="A pretraining objective must set model.attrs['loss'] = fn(ops, docs, predictions) -> (loss, d_predictions).")
    if built.name == "masked-language-model" and built.has_ref("wrapped"):
        # spaCy's builders: keep their network and loss, mask with our generator.
        model = built.get_ref("wrapped")
        for ref in ("tok2vec", "output_layer"):
            if built.has_ref(ref):
                model.set_ref(ref, built.get_ref(ref))
        masker: Optional[TokenMasker] = TokenMasker(nlp.vocab, seed=seed)
    else:  # a custom objective masks (or not) by itself
        model, masker = built, None
    model.initialize(X=[nlp.make_doc(SAMPLE_TEXT)])
    set_dropout_rate(model, dropout)
    return Tok2VecObjective(model=model, target=target, loss=loss, masker=masker)
