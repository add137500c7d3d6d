"""Beyond fp32 on the CPU, both opt-in: bf16 (``mixed_precision = true``: autocast in training,
a bf16 copy of the encoder for prediction) and int8 dynamic quantization for prediction
(``quantize = "int8"``). Outputs stay close to fp32, gradients stay float32, and the fp32
weights are what a pipeline saves."""

from __future__ import annotations

import numpy
import pytest
import spacy
import torch

from spacy_transfer.core.transformer import get_hf_model
from spacy_transfer.errors import UserError

from .conftest import CORPUS


def pipeline(path, **component):
    nlp = spacy.blank("en")
    model = {
        "@architectures": "spacy-transfer.TransformerModel.v1",
        "name": str(path),
        "get_spans": {"@span_getters": "spacy-transfer.doc_spans.v1"},
    }
    model.update(component.pop("model", {}))
    nlp.add_pipe("transformer", config={"model": model, **component})
    nlp.initialize()
    return nlp


def rows(nlp, texts):
    return [d._.trf_data.tensors[0][0] for d in nlp.pipe(texts)]


@pytest.fixture(autouse=True)
def bf16_on_any_cpu(monkeypatch):
    """These tests check what bf16 computes, so they force it where the CPU has no bf16 units."""
    from spacy_transfer.core import precision

    monkeypatch.setenv(precision.FORCE_BF16_ENV, "1")


def test_bf16_on_the_cpu_is_close_to_fp32_and_returns_float32(minilm_path):
    from spacy_transfer.core.transformer.model import find_transformer_model, hf_shim

    fp32 = rows(pipeline(minilm_path), CORPUS[:6])
    nlp = pipeline(minilm_path, model={"mixed_precision": True})
    bf16 = rows(nlp, CORPUS[:6])
    for a, b in zip(fp32, bf16):
        assert b.dtype == numpy.float32
        cos = (a * b).sum(-1) / (numpy.linalg.norm(a, axis=-1) * numpy.linalg.norm(b, axis=-1))
        assert cos.min() > 0.99
        assert numpy.abs(a - b).max() > 0, "bf16 really ran"
    trf = nlp.get_pipe("transformer")
    predictor = hf_shim(find_transformer_model(trf))._predict_copy
    assert all(p.dtype == torch.bfloat16 for p in predictor.parameters()), "prediction ran a bf16 copy"
    assert all(p.dtype == torch.float32 for p in get_hf_model(trf).parameters()), "the encoder stays float32"


def test_bf16_training_keeps_float32_weights_and_gradients(tiny_model):
    nlp = pipeline(tiny_model("bert"), model={"mixed_precision": True})
    trf = nlp.get_pipe("transformer")
    docs = [nlp.make_doc(t) for t in CORPUS[:4]]
    batch, backprop = trf.model.begin_update(docs)
    backprop([numpy.ones_like(d.tensors[0]) for d in batch.doc_data])
    hf = get_hf_model(trf)
    grads = [p.grad for p in hf.parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.float32 for g in grads)
    assert all(p.dtype == torch.float32 for p in hf.parameters())
    from spacy_transfer.core.bf16 import GridLinear

    assert type(hf.encoder.layer[0].intermediate.dense) is GridLinear, "bf16 training runs on the row grid"


def test_int8_prediction_is_close_and_saves_fp32_weights(minilm_path, tmp_path):
    nlp = pipeline(minilm_path, quantize="int8")
    fp32 = rows(pipeline(minilm_path), CORPUS[:6])
    int8 = rows(nlp, CORPUS[:6])
    for a, b in zip(fp32, int8):
        cos = (a * b).sum(-1) / (numpy.linalg.norm(a, axis=-1) * numpy.linalg.norm(b, axis=-1))
        # int8 moves single rows more than bf16 does; what it costs in accuracy is in `make bench`.
        assert cos.mean() > 0.9 and cos.min() > 0.75 and numpy.abs(a - b).max() > 0
    hf = get_hf_model(nlp.get_pipe("transformer"))
    assert all(isinstance(m, torch.nn.Linear) for m in hf.modules() if "Linear" in type(m).__name__), (
        "the fp32 encoder is untouched"
    )
    from spacy_transfer.core.transformer.model import find_transformer_model, hf_shim

    quantized = hf_shim(find_transformer_model(nlp.get_pipe("transformer")))._predict_copy
    modules = dict(quantized.named_modules())
    int8_linear = torch.ao.nn.quantized.dynamic.Linear
    assert isinstance(modules["encoder.layer.0.intermediate.dense"], int8_linear)
    assert isinstance(modules["encoder.layer.0.attention.self.query"], int8_linear)
    assert not isinstance(modules["encoder.layer.0.output.dense"], int8_linear), (
        "feed-forward down-projections stay fp32"
    )
    nlp.to_disk(tmp_path / "p")
    # Dynamic quantization scales activations per forward pass, so compare the same batch.
    again = spacy.load(tmp_path / "p")  # the setting is in the saved config
    numpy.testing.assert_allclose(rows(again, CORPUS[:6])[0], int8[0], atol=1e-5)
    # A load-time choice (a config override): off gives the fp32 weights back exactly.
    plain = spacy.load(tmp_path / "p", config={"components": {"transformer": {"quantize": None}}})
    numpy.testing.assert_allclose(rows(plain, CORPUS[:2])[0], fp32[0], atol=1e-5)
    fp32_saved = tmp_path / "fp32"
    plain.to_disk(fp32_saved)
    on = spacy.load(fp32_saved, config={"components": {"transformer": {"quantize": "int8"}}})
    numpy.testing.assert_allclose(rows(on, CORPUS[:6])[0], int8[0], atol=1e-5)


def test_int8_prediction_quantizes_an_encoder_set_to_mixed_precision_too(tiny_model):
    from spacy_transfer.core.transformer.model import find_transformer_model, hf_shim

    nlp = pipeline(tiny_model("bert"), quantize="int8", model={"mixed_precision": True})
    rows(nlp, CORPUS[:2])
    quantized = hf_shim(find_transformer_model(nlp.get_pipe("transformer")))._predict_copy
    modules = dict(quantized.named_modules())
    assert isinstance(modules["encoder.layer.0.intermediate.dense"], torch.ao.nn.quantized.dynamic.Linear)


def test_quantize_takes_only_int8(tiny_model):
    with pytest.raises(UserError, match="quantize"):
        pipeline(tiny_model("bert"), quantize="int4")
