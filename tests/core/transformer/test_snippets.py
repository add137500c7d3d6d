"""The spec's transformer config snippets resolve and train a few steps unchanged, apart
from pointing `components.transformer.model.name` at a local model folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy
from spacy import util
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import Adam

from spacy_transfer.core.config import load_training_config

SNIPPETS = Path(__file__).parents[2] / "snippets"
SENTS = [
    (["Apple", "bought", "a", "startup", "in", "London", "."], ["U-ORG", "O", "O", "O", "O", "U-GPE", "O"]),
    (
        ["Sara", "flew", "to", "Paris", ".", "It", "rained", "."],
        ["U-PERSON", "O", "O", "U-GPE", "O", "O", "O", "O"],
    ),
]


def _examples(nlp):
    out = []
    for words, ents in SENTS:
        starts = [i == 0 or words[i - 1] == "." for i in range(len(words))]
        doc = Doc(nlp.vocab, words=words, sent_starts=starts)  # sentences for sent-based span getters
        out.append(Example.from_dict(doc, {"entities": ents}))
    return out


@pytest.mark.parametrize(
    "name,code",
    [
        ("transformer_component", None),
        ("transformer_listener", None),
        ("custom_sent_spans", "custom_sent_spans.py"),
    ],
)
def test_spec_snippet_resolves_and_trains(tiny_model, name, code):
    from thinc.api import fix_random_seed

    fix_random_seed(0)  # the same weights whichever tests ran before in this process
    overrides = {"components.transformer.model.name": str(tiny_model("bert"))}
    config = load_training_config(SNIPPETS / f"{name}.cfg", overrides, code=SNIPPETS / code if code else None)
    nlp = util.load_model_from_config(config, auto_fill=True, validate=True)
    exs = _examples(nlp)
    nlp.initialize(lambda: exs)
    opt = Adam(0.01)
    history = [nlp.update(exs, sgd=opt, losses={}) for _ in range(4)]
    assert "transformer" in history[-1]
    if "ner" in nlp.pipe_names:
        assert history[-1]["ner"] < history[0]["ner"]
    doc = nlp(exs[0].predicted.copy())
    assert doc._.trf_data.align.lengths.shape[0] == len(doc)


def test_custom_span_getter_from_the_spec_gives_short_spans(tiny_model):
    config = load_training_config(
        SNIPPETS / "custom_sent_spans.cfg",
        {
            "components.transformer.model.name": str(tiny_model("bert")),
            "components.transformer.model.get_spans.max_length": 3,
        },
        code=SNIPPETS / "custom_sent_spans.py",
    )
    nlp = util.load_model_from_config(config, auto_fill=True)
    exs = _examples(nlp)
    nlp.initialize(lambda: exs)
    doc = nlp(exs[1].predicted)
    assert [len(s) for s in doc._.trf_data.spans] == [3, 2, 3]


def test_compat_package_is_what_the_spec_imports():
    import spacy_transformers
    from spacy_transfer.core.transformer import Transformer as Ours
    from spacy_transformers import FullTransformerBatch, Transformer, TransformerData, TransformerModel  # noqa: F401
    from spacy_transformers.annotation_setters import null_annotation_setter  # noqa: F401
    from spacy_transformers.span_getters import get_doc_spans

    assert Transformer is Ours
    assert spacy_transformers.registry is spacy.util.registry
    # The spec's "Python equivalent" of the config.
    nlp = spacy.blank("en")
    trf = Transformer(
        nlp.vocab,
        TransformerModel("bert-base-cased", get_spans=get_doc_spans, tokenizer_config={"use_fast": True}),
        set_extra_annotations=null_annotation_setter,
        max_batch_items=4096,
    )
    assert trf.cfg["max_batch_items"] == 4096
