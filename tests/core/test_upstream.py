"""Each private attribute of thinc, torch and spaCy that core.upstream reaches exists on
the real objects: an upstream rename fails here, by name."""

from __future__ import annotations

import pytest
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


def test_torchs_multi_tensor_kernels_compute_what_their_names_say():
    a, b = [torch.ones(3), torch.full((2,), 2.0)], [torch.full((3,), 4.0), torch.ones(2)]
    upstream.foreach_add_(a, b, alpha=0.5)
    assert a[0].tolist() == [3.0] * 3 and a[1].tolist() == [2.5] * 2
    upstream.foreach_mul_(a, [2.0, 4.0])
    assert a[0].tolist() == [6.0] * 3 and a[1].tolist() == [10.0] * 2
    assert [float(n) for n in upstream.foreach_norm([torch.tensor([3.0, 4.0])])] == [5.0]
    ends = [torch.full((3,), 10.0)]
    start = [torch.zeros(3)]
    upstream.foreach_lerp_(start, ends, 0.25)
    assert start[0].tolist() == [2.5] * 3


def test_torchs_fused_softmax_backward_is_autograds_gradient_of_softmax():
    scores = torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(0), requires_grad=True)
    grad = torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(1))
    probs = torch.softmax(scores, dim=-1)
    (expected,) = torch.autograd.grad(probs, scores, grad)
    assert torch.allclose(upstream.softmax_backward(grad, probs.detach()), expected, atol=1e-7)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_a_gelus_kept_input_is_reached_from_its_output(approximate):
    h = torch.randn(3, 4, requires_grad=True)
    x = torch.nn.functional.gelu(h, approximate=approximate)
    source, mode = upstream.gelu_source(x)
    assert source.data_ptr() == h.data_ptr() and mode == approximate
    assert torch.equal(torch.nn.functional.gelu(source, approximate=mode), x)
    assert upstream.gelu_source(torch.relu(h)) is None
    assert upstream.gelu_source(torch.nn.functional.gelu(h.detach())) is None


@pytest.mark.parametrize(
    "kernel, reference, weight_decay",
    [(upstream.fused_adam_, torch.optim.Adam, 0.0), (upstream.fused_adamw_, torch.optim.AdamW, 0.5)],
    ids=["adam", "adamw"],
)
def test_torchs_fused_adam_kernels_match_torch_optim(kernel, reference, weight_decay):
    torch.manual_seed(0)
    p1 = torch.nn.Parameter(torch.randn(5))
    p2 = torch.nn.Parameter(p1.detach().clone())
    grad = torch.randn(5)
    optimizer = reference([p2], lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=weight_decay)
    p2.grad = grad.clone()
    optimizer.step()
    m, v = torch.zeros(5), torch.zeros(5)
    kernel(
        [p1.data], [grad.clone()], [m], [v], [torch.tensor(1.0)],
        lr=0.1, beta1=0.9, beta2=0.999, weight_decay=weight_decay, eps=1e-8, amsgrad=False, maximize=False,
    )  # fmt: skip
    torch.testing.assert_close(p1.data, p2.data)


def test_a_parsers_private_steps_are_reached(tmp_path):
    from spacy.training import Example

    nlp = spacy.blank("en")
    parser = nlp.add_pipe("parser")
    doc = nlp.make_doc("She sells shells")
    example = Example.from_dict(doc, {"heads": [1, 1, 1], "deps": ["nsubj", "ROOT", "dobj"]})
    nlp.initialize(lambda: [example] * 30)  # rarer labels are merged into "dep" (min_action_freq)
    ner = nlp.add_pipe("ner")
    ner.initialize(
        lambda: [Example.from_dict(nlp.make_doc("Anna runs"), {"entities": ["U-PER", "O"]})], nlp=nlp
    )
    new = Example.from_dict(nlp.make_doc("Rome sleeps"), {"entities": ["U-LOC", "O"]})
    assert "LOC" not in ner.labels
    upstream.parser_add_labels(ner, [new.y])  # the method of every transition-based component
    assert "LOC" in ner.labels
    states, golds, max_moves = upstream.parser_gold_batch(parser, [example], max_length=2)
    assert len(states) == len(golds) >= 1 and max_moves >= 1
    assert upstream.pipe_multitasks(parser) == []


def test_a_span_categorizers_negative_label_column_is_read():
    nlp = spacy.blank("en")
    spancat = nlp.add_pipe("spancat_singlelabel")
    for label in ("PER", "LOC"):
        spancat.add_label(label)
    assert upstream.negative_label_index(spancat) == 2  # after its labels


def test_peft_takes_a_custom_lora_layer_for_a_module_type():
    import peft
    from peft.tuners.lora.layer import Linear as LoraLinear

    class Custom(LoraLinear):
        pass

    config = peft.LoraConfig(r=2, target_modules=["0"])
    upstream.peft_use_lora_layer(config, torch.nn.Linear, Custom)
    model = peft.inject_adapter_in_model(config, torch.nn.Sequential(torch.nn.Linear(4, 4)))
    assert type(model[0]) is Custom
