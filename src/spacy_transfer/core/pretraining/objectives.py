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

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

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

    def __init__(
        self, vocab: Any, *, mask_prob: float = 0.15, seed: Optional[int] = 0, n_words: int = 10000
    ) -> None:
        self.mask_prob = mask_prob
        self.rng = numpy.random.default_rng(seed)
        # As spaCy: replacement words are the vocab's first lexemes with a probability,
        # drawn in proportion to exp(prob).
        lexemes = [lex for lex in vocab if lex.prob != 0.0][:n_words]
        self.words = [lex.text for lex in lexemes] or [MASK]
        probs = numpy.exp(numpy.asarray([lex.prob for lex in lexemes] or [0.0], dtype="f8"))
        self.probs = probs / probs.sum()

    def __call__(
        self, docs: List[Doc], keep: Optional[Sequence[int]] = None
    ) -> Tuple[numpy.ndarray, List[Doc]]:
        """Masked copies of ``docs`` and a per-token flag: True where the token was picked.

        The draws always cover the whole batch, so that every rank of a data-parallel run
        consumes its generator alike and masks as one process would; ``keep`` (indices
        into ``docs``) limits what is built and returned to this rank's shard.
        """
        n = sum(len(doc) for doc in docs)
        picked = self.rng.random(n) < self.mask_prob
        roll = self.rng.random(n)
        swap = picked & (roll >= 0.8) & (roll < 0.9)
        replacement = numpy.full(n, -1, dtype="int64")
        n_random = int(swap.sum())
        if n_random:
            replacement[swap] = self.rng.choice(len(self.words), n_random, p=self.probs)
        starts = numpy.cumsum([0] + [len(doc) for doc in docs])
        masked: List[Doc] = []
        flags: List[numpy.ndarray] = []
        for d in range(len(docs)) if keep is None else keep:
            doc, i = docs[d], int(starts[d])
            words = [t.text for t in doc]
            for j in numpy.flatnonzero(picked[i : i + len(doc)]).tolist():
                if roll[i + j] < 0.8:
                    words[j] = MASK
                elif replacement[i + j] >= 0:
                    words[j] = self.words[int(replacement[i + j])]
            masked.append(Doc(doc.vocab, words=words, spaces=[bool(t.whitespace_) for t in doc]))
            flags.append(picked[i : i + len(doc)])
        return (numpy.concatenate(flags) if flags else numpy.zeros(0, dtype=bool)), masked

    def get_state(self) -> Dict[str, Any]:
        return self.rng.bit_generator.state

    def set_state(self, state: Dict[str, Any]) -> None:
        self.rng.bit_generator.state = state


@dataclass(frozen=True)
class ShardGradients:
    """What one rank's backward pass leaves for the reduce that runs before the step.

    The gradients themselves are in the model. ``grad_weight`` scales them and
    ``loss_weight`` the loss so that the sum over ranks is what one process computes on
    the combined batch (both 1.0 for a whole batch). ``active`` is False when the
    combined batch has nothing to learn from; every rank sees the whole batch, so every
    rank agrees on it without talking.
    """

    loss: float
    grad_weight: float = 1.0
    loss_weight: float = 1.0
    active: bool = True


# How a loss and its gradient scale with the number of tokens n of the batch:
# "sum" (independent of n), "mean" (divided by n), "mean_squared" (divided by n**2).
Reduction = Tuple[str, str]  # (gradient, loss)


def share(rule: str, mine: int, total: int) -> float:
    """Weight of a shard of ``mine`` out of ``total`` units under ``rule``."""
    if rule == "sum":
        return 1.0
    fraction = mine / total if total else 0.0
    return fraction * fraction if rule == "mean_squared" else fraction


def loss_reduction(model: Model, loss: Any) -> Reduction:
    """How spaCy's pretraining losses normalise (read from the loss function itself).

    All three divide the gradient by the batch's token count. Their reported losses
    differ: the characters loss is a plain sum of squares, the cosine loss a mean, and
    thinc's normalised L2 loss squares the normalised difference (so 1/n**2). A custom
    objective can say so in ``model.attrs["pretrain_reduction"] = (gradient, loss)``;
    otherwise it is taken to follow the spaCy convention (mean gradient, summed loss).
    """
    if "pretrain_reduction" in model.attrs:
        return tuple(model.attrs["pretrain_reduction"])  # type: ignore[return-value]
    func = getattr(loss, "func", None)
    distance = getattr(loss, "keywords", {}).get("distance")
    if getattr(func, "__name__", "") == "get_vectors_loss" and distance is not None:
        normalised = bool(getattr(distance, "normalize", False))
        if type(distance).__name__ == "L2Distance":
            return ("mean", "mean_squared") if normalised else ("sum", "sum")
        return ("mean", "mean") if normalised else ("sum", "sum")
    return ("mean", "sum")


@dataclass
class Tok2VecObjective:
    """A tok2vec layer with an output layer, its loss and its masking."""

    model: Model  # chain(tok2vec, output_layer): everything the optimizer updates
    target: PretrainTarget
    loss: Loss
    masker: Optional[TokenMasker]
    kind: str = "tok2vec"
    reduction: Reduction = ("mean", "sum")

    def backward(self, docs: List[Doc], keep: Optional[Sequence[int]] = None) -> ShardGradients:
        """Gradients of the docs ``keep`` picks out of the batch (all of them by default).

        The masker always draws for the whole batch (see :class:`TokenMasker`), so a
        shard is masked exactly as it would be inside the combined batch.
        """
        mine = list(docs) if keep is None else [docs[i] for i in keep]
        total, n_mine = sum(len(d) for d in docs), sum(len(d) for d in mine)
        if self.masker is not None:
            picked, inputs = self.masker(docs, keep)
        else:
            picked, inputs = None, mine
        weights = {
            "grad_weight": share(self.reduction[0], n_mine, total),
            "loss_weight": share(self.reduction[1], n_mine, total),
        }
        if n_mine == 0:  # an empty shard: nothing to compute, zeros in the reduce
            return ShardGradients(loss=0.0, active=total > 0, **weights)
        predictions, backprop = self.model.begin_update(inputs)
        # The targets come from the original docs: the masked copies lost the words.
        loss, d_predictions = self.loss(self.model.ops, mine, predictions)
        if picked is not None:
            d_predictions *= self.model.ops.asarray(picked.astype("f")).reshape((-1, 1))
        backprop(d_predictions)
        return ShardGradients(loss=float(loss), **weights)

    def step(self, optimizer: Optimizer) -> None:
        """Apply the (combined) gradients."""
        self.model.finish_update(optimizer)

    def weights_bytes(self, optimizer: Optimizer) -> bytes:
        """What ``init_tok2vec`` loads: the layer's averaged weights (as spaCy saves them)."""
        with self.model.use_params(optimizer.averages or {}):
            return self.target.model.to_bytes()

    def load_weights(self, data: bytes, *, where: str) -> None:
        """Load a weights file into the layer (checked): resuming without a state."""
        from .weights import load_weights

        load_weights(self.target, data, where=where)


def build_tok2vec_objective(
    nlp: Language,
    target: PretrainTarget,
    create: Callable[[Any, Model], Model],
    *,
    dropout: float,
    seed: Optional[int],
    objective_name: str,
) -> Tok2VecObjective:
    try:
        built = create(nlp.vocab, target.model)
    except ValueError as e:
        if "E875" in str(e):
            raise UserError(
                "The vectors objective needs word vectors, but the pipeline has none",
                rows=[
                    ("[pretraining.objective]", objective_name),
                    ("[initialize] vectors", "null or an empty table"),
                ],
                hint="Set [initialize] vectors / '--paths.vectors' to a vectors pipeline (spacy-transfer init vectors), "
                "or use the objective spacy.PretrainCharacters.v1.",
            ) from e
        if "E906" in str(e):
            raise UserError(
                f"Unknown loss for {objective_name}",
                rows=[("[pretraining.objective] loss", " ".join(str(e).split()))],
                hint='Use loss = "cosine" or loss = "L2".',
            ) from e
        raise
    loss = built.attrs.get("loss")
    if not callable(loss):
        raise UserError(
            f"The objective {objective_name} built a model without a loss",
            hint="A pretraining objective must set model.attrs['loss'] = fn(ops, docs, predictions) -> (loss, d_predictions).",
        )
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
    return Tok2VecObjective(
        model=model, target=target, loss=loss, masker=masker, reduction=loss_reduction(built, loss)
    )
