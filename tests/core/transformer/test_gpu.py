"""GPU paths: the model on the GPU, autocast (bf16 where supported, else fp16 with a
grad scaler) when mixed_precision is on. Skipped without CUDA."""

from __future__ import annotations

import numpy
import pytest
import spacy
import torch
from spacy.training import Example
from thinc.api import Adam

from spacy_transfer.core.transformer import get_hf_model, transformer_model
from spacy_transfer.core.transformer.span_getters import get_doc_spans

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.fixture
def on_gpu():
    from thinc.api import require_gpu, set_gpu_allocator, use_ops

    set_gpu_allocator("pytorch")
    require_gpu(0)
    yield
    use_ops("numpy")


@pytest.mark.parametrize("mixed_precision", [False, True])
def test_predictions_on_gpu_match_cpu(tiny_model, on_gpu, mixed_precision):
    path = tiny_model("bert")
    docs = [spacy.blank("en").make_doc(t) for t in ["Hello world .", "A slightly longer sentence here ."]]
    gpu_model = transformer_model(str(path), get_doc_spans, mixed_precision=mixed_precision)
    gpu_model.initialize()
    assert get_hf_model(gpu_model).device.type == "cuda"
    gpu_out = gpu_model.predict(docs)
    cpu_hf = get_hf_model(gpu_model).to("cpu")
    cpu_hf.eval()
    from spacy_transfer.core.transformer import get_tokenizer

    tok = get_tokenizer(gpu_model)
    for doc, data in zip(docs, gpu_out.doc_data):
        with torch.inference_mode():
            ref = cpu_hf(**tok([doc.text], return_tensors="pt")).last_hidden_state[0].numpy()
        last = data.tensors[0][0]  # (spans, padded length, width): the one span of the doc
        got = last.get() if hasattr(last, "get") else last
        assert got.dtype == numpy.float32
        numpy.testing.assert_allclose(got, ref, atol=5e-2 if mixed_precision else 1e-4)


def test_mixed_precision_training_learns_on_gpu(tiny_model, on_gpu):
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "transformer",
        config={
            "model": {
                "name": str(tiny_model("bert")),
                "mixed_precision": True,
                "get_spans": {"@span_getters": "spacy-transfer.doc_spans.v1"},
            }
        },
    )
    nlp.add_pipe(
        "tagger",
        config={
            "model": {
                "@architectures": "spacy.Tagger.v2",
                "tok2vec": {
                    "@architectures": "spacy-transfer.TransformerListener.v1",
                    "pooling": {"@layers": "reduce_mean.v1"},
                },
            }
        },
    )
    exs = [Example.from_dict(nlp.make_doc("Sara flew to Paris ."), {"tags": ["N", "V", "P", "N", "."]})]
    nlp.initialize(lambda: exs)
    opt = Adam(0.01)
    losses = [nlp.update(exs, sgd=opt, losses={})["tagger"] for _ in range(8)]
    assert losses[-1] < losses[0]
