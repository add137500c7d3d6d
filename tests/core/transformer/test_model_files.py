"""A transformer model on disk: the encoder as a Hugging Face folder, the rest as thinc's
bytes with the encoder left out; the mode is an argument, never a flag on the shim."""

from __future__ import annotations

import numpy
import spacy
import srsly
from thinc.api import Linear, chain

from spacy_transfer.core.transformer import transformer_model
from spacy_transfer.core.transformer.model_files import (
    BY_REFERENCE,
    hf_shims,
    load_model_dir,
    model_bytes,
    save_model_dir,
)
from spacy_transfer.core.transformer.span_getters import get_doc_spans

from .conftest import CORPUS


def test_without_an_encoder_the_bytes_are_thincs_own():
    """Our writer of thinc's message holds to thinc's format, byte for byte."""
    model = chain(Linear(4, 3), Linear(2, 4))
    model.initialize(X=numpy.zeros((2, 3), dtype="float32"))
    assert model_bytes(model, encoder_weights=False) == model.to_bytes()
    assert model_bytes(model, encoder_weights=True) == model.to_bytes()


def test_the_encoder_is_left_out_only_when_asked(tiny_model):
    model = transformer_model(str(tiny_model("bert")), get_doc_spans)
    model.initialize()
    inline = srsly.msgpack_loads(model_bytes(model, encoder_weights=True))
    by_reference = srsly.msgpack_loads(model_bytes(model, encoder_weights=False))
    assert inline["nodes"] == by_reference["nodes"] and inline["attrs"] == by_reference["attrs"]
    shims = [s for node in by_reference["shims"] for s in node]
    assert shims == [BY_REFERENCE]
    assert len([s for node in inline["shims"] for s in node][0]) > 10 * len(BY_REFERENCE)
    # Writing a folder leaves the live shim as it was: nlp.to_bytes() still carries the weights.
    assert model.to_bytes() == model_bytes(model, encoder_weights=True)


def test_a_saved_folder_loads_into_a_fresh_model_with_the_same_outputs(tiny_model, tmp_path):
    model = transformer_model(str(tiny_model("bert")), get_doc_spans)
    model.initialize()
    save_model_dir(model, tmp_path / "m")
    assert (tmp_path / "m" / "hf0").is_dir() and (tmp_path / "m" / "thinc.bin").exists()
    fresh = transformer_model(str(tiny_model("bert")), get_doc_spans)
    load_model_dir(fresh, tmp_path / "m")
    assert hf_shims(fresh)[0].loaded
    docs = [spacy.blank("en").make_doc(t) for t in CORPUS[:3]]
    for a, b in zip(model.predict(docs).doc_data, fresh.predict(docs).doc_data):
        numpy.testing.assert_allclose(a.tensors[0], b.tensors[0], atol=1e-6)


def test_a_shim_message_in_no_known_format_is_refused():
    import pytest

    from spacy_transfer.core.transformer.shim import HFShim
    from spacy_transfer.errors import UserError

    with pytest.raises(UserError, match="neither spacy-transfer's nor spacy-transformers' format"):
        HFShim().from_bytes(srsly.msgpack_dumps({"weights": "unknown"}))
