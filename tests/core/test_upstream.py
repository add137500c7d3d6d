"""Each private attribute of thinc, torch and spaCy that core.upstream reaches exists on
the real objects: an upstream rename fails here, by name."""

from __future__ import annotations

import spacy
import torch
from thinc.api import Adam, PyTorchWrapper_v2, RAdam
from thinc.shims.pytorch_grad_scaler import PyTorchGradScaler

from spacy_transfer.core import upstream


def test_a_pytorch_shims_module_and_settings_are_reached():
    model = PyTorchWrapper_v2(torch.nn.Linear(3, 2), mixed_precision=True)
    shim = model.shims[0]
    assert isinstance(upstream.shim_module(shim), torch.nn.Linear)
    assert [name for name, _ in upstream.shim_parameters(shim)] == ["weight", "bias"]
    assert upstream.shim_mixed_precision(shim) is True
    assert upstream.shim_mixed_precision(PyTorchWrapper_v2(torch.nn.Linear(3, 2)).shims[0]) is False


def test_a_grad_scalers_state_round_trips():
    scaler = PyTorchGradScaler(enabled=True, init_scale=1024.0)
    assert upstream.scaler_enabled(scaler) and not upstream.scaler_enabled(PyTorchGradScaler(enabled=False))
    scale, growth = upstream.scaler_state(scaler)
    assert float(scale) == 1024.0 and int(growth) == 0
    upstream.set_scaler_state(scaler, torch.tensor([8.0]), torch.tensor([3], dtype=torch.int32))
    scale, growth = upstream.scaler_state(scaler)
    assert float(scale) == 8.0 and int(growth) == 3


def test_radams_cache_round_trips():
    opt = RAdam(0.01)
    rows = upstream.radam_buffer(opt)
    assert len(rows) == 10 and all(len(r) == 3 for r in rows)
    rows[3] = [7, 2.5, 0.1]
    upstream.set_radam_buffer(Adam(0.01), rows)
    fresh = Adam(0.01)
    upstream.set_radam_buffer(fresh, rows)
    assert upstream.radam_buffer(fresh)[3] == [7.0, 2.5, 0.1]


def test_link_components_connects_a_listener():
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec")
    nlp.add_pipe(
        "tagger",
        config={
            "model": {
                "@architectures": "spacy.Tagger.v2",
                "tok2vec": {"@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "*"},
            }
        },
    )
    upstream.link_components(nlp)
    assert nlp.get_pipe("tok2vec").listening_components == ["tagger"]


def test_a_hugging_face_models_attention_is_read_and_switchable(tmp_path):
    from transformers import AutoModel

    from .transformer.tiny import make_tiny_model_dir

    model = AutoModel.from_pretrained(str(make_tiny_model_dir(tmp_path, "bert")), attn_implementation="eager")
    assert upstream.hf_attention_implementation(model) == "eager"
    assert upstream.hf_can_set_attention(model)
    model.set_attn_implementation("sdpa")
    assert upstream.hf_attention_implementation(model) == "sdpa"
    assert upstream.hf_attention_implementation(torch.nn.Linear(2, 2)) is None
    assert not upstream.hf_can_set_attention(torch.nn.Linear(2, 2))


def test_torch_reports_its_cpu_features():
    # Each helper exists in this torch and answers a bool; an unknown one is False, not an error.
    for name in ("avx512_bf16", "amx_tile", "vnni", "mkldnn_bf16"):
        assert isinstance(upstream.torch_cpu_feature(name), bool)
    assert upstream.torch_cpu_feature("mkldnn_bf16") == torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert upstream.torch_cpu_feature("avx512_bf16") == torch.cpu._is_avx512_bf16_supported()
