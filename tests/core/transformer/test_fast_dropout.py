"""Fast CPU dropout: torch's distribution and expectation, torch's seed, and no change at all
to prediction, to saved models or off the training path."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from torch import nn

from spacy_transfer.core.transformer import fast_dropout
from spacy_transfer.core.transformer.fast_dropout import FastDropout, attention, drop, install, keep_mask

from .tiny import ARCHS


def test_masks_keep_one_minus_p_and_rescale_to_the_exact_keep_probability():
    torch.manual_seed(0)
    keep, scale = keep_mask((1000, 1000), 0.1)
    assert keep.dtype == torch.bool and keep.shape == (1000, 1000)
    # 10^6 Bernoulli(0.9) draws: the standard deviation of the mean is 0.0003
    assert abs(keep.float().mean().item() - 0.9) < 0.0015
    assert scale == pytest.approx(65536 / (65536 - 6554))
    out = drop(torch.ones(1000, 1000), 0.1)
    assert abs(out.mean().item() - 1.0) < 0.002  # the expectation is unchanged
    assert out.unique().tolist() == [0.0, pytest.approx(scale)]


def test_masks_follow_torch_manual_seed():
    torch.manual_seed(3)
    a, _ = keep_mask((64, 64), 0.3)
    torch.manual_seed(3)
    b, _ = keep_mask((64, 64), 0.3)
    c, _ = keep_mask((64, 64), 0.3)
    assert torch.equal(a, b)
    assert not torch.equal(b, c)


def test_p_one_drops_everything_and_p_zero_nothing():
    x = torch.randn(5, 7)
    assert torch.equal(drop(x, 1.0), torch.zeros(5, 7))
    layer = FastDropout(p=0.0).train()
    assert torch.equal(layer(x), x)


def test_dropout_module_is_the_identity_in_eval_and_torch_dropout_off_the_fast_path():
    x = torch.randn(4, 8)
    layer = FastDropout(p=0.5)
    assert isinstance(layer, nn.Dropout)
    assert torch.equal(layer.eval()(x), x)
    ints = torch.arange(10)
    with pytest.raises(RuntimeError):  # integers: torch's own dropout and its own error
        layer.train()(ints)


def test_dropout_gradient_is_the_mask_times_the_scale():
    x = torch.randn(50, 40, requires_grad=True)
    torch.manual_seed(1)
    y = drop(x, 0.25)
    y.sum().backward()
    torch.manual_seed(1)
    keep, scale = keep_mask((50, 40), 0.25)
    assert torch.equal(x.grad, keep.float() * scale)
    assert torch.equal(y, torch.where(keep, x * scale, 0.0))


def _qkv(seed=0, batch=3, heads=2, length=6, dim=4):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, heads, length, dim, generator=gen) for _ in range(3)]


class _Attn(nn.Module):
    is_causal = False


def test_attention_without_training_dropout_is_transformers_sdpa():
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    q, k, v = _qkv()
    mask = torch.ones(3, 1, 6, 6, dtype=torch.bool)
    mask[0, :, :, 4:] = False
    for module in (_Attn().eval(), _Attn().train()):  # models pass dropout=0.0 when predicting
        ours, _ = attention(module, q, k, v, mask, dropout=0.0)
        theirs, _ = sdpa_attention_forward(module, q, k, v, mask, dropout=0.0)
        assert torch.equal(ours, theirs)


def test_training_attention_is_softmax_attention_with_the_fast_mask():
    q, k, v = _qkv()
    mask = torch.ones(3, 1, 6, 6, dtype=torch.bool)
    mask[1, :, :, 3:] = False  # padding: never attended, dropped out or not
    module = _Attn().train()
    torch.manual_seed(5)
    ours, _ = attention(module, q, k, v, mask, dropout=0.2)
    torch.manual_seed(5)
    probs = torch.softmax((q @ k.transpose(2, 3) / 2.0).masked_fill(~mask, float("-inf")), dim=-1)
    expected = (drop(probs, 0.2) @ v).transpose(1, 2)
    assert ours.shape == (3, 6, 2, 4)
    assert torch.allclose(ours, expected, atol=1e-6)


def _tiny(tiny_model, arch):
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(tiny_model(arch)), local_files_only=True)


@pytest.mark.parametrize("arch", ARCHS)
def test_install_changes_no_prediction_and_no_weight(tiny_model, arch):
    plain = _tiny(tiny_model, arch).eval()
    fast = install(copy.deepcopy(plain)).eval()
    assert not any(type(m) is nn.Dropout for m in fast.modules())
    assert fast.state_dict().keys() == plain.state_dict().keys()
    ids = torch.randint(5, plain.config.vocab_size, (3, 12))
    mask = torch.ones(3, 12, dtype=torch.long)
    mask[2, 7:] = 0
    with torch.no_grad():
        a = plain(input_ids=ids, attention_mask=mask).last_hidden_state
        b = fast(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.allclose(a, b, atol=1e-5)


def test_installed_bert_trains_through_the_fast_attention(tiny_model):
    model = install(_tiny(tiny_model, "bert")).train()
    assert model.config._attn_implementation == fast_dropout.ATTENTION
    ids = torch.randint(5, model.config.vocab_size, (2, 10))
    torch.manual_seed(0)
    first = model(input_ids=ids).last_hidden_state
    torch.manual_seed(0)
    again = model(input_ids=ids).last_hidden_state
    other = model(input_ids=ids).last_hidden_state
    assert torch.equal(first, again)  # torch's seed decides the masks
    assert not torch.equal(again, other)
    first.sum().backward()
    assert model.embeddings.word_embeddings.weight.grad is not None


def test_saved_config_does_not_name_our_attention(tiny_model, tmp_path):
    model = install(_tiny(tiny_model, "bert"))
    model.save_pretrained(tmp_path)
    assert fast_dropout.ATTENTION not in json.dumps(json.loads((tmp_path / "config.json").read_text()))


def test_eager_attention_is_left_as_chosen(tiny_model):
    from transformers import AutoModel

    model = AutoModel.from_pretrained(
        str(tiny_model("bert")), local_files_only=True, attn_implementation="eager"
    )
    install(model)
    assert model.config._attn_implementation == "eager"
    assert not any(type(m) is nn.Dropout for m in model.modules())


def test_training_attention_gradients_are_those_of_the_plain_ops():
    """The backward pass keeps the probabilities and the mask as booleans (not the dropped
    probabilities): its gradients are autograd's through the composed operations with the
    same mask."""
    q, k, v = (t.requires_grad_() for t in _qkv(seed=2))
    bias = torch.zeros(3, 1, 6, 6)
    bias[2, :, :, 4:] = torch.finfo(torch.float32).min
    module = _Attn().train()
    torch.manual_seed(9)
    out, _ = attention(module, q, k, v, bias, dropout=0.3)
    node = out.grad_fn
    while type(node).__name__ != "DroppedAttentionBackward":  # under the transpose and copy
        node = node.next_functions[0][0]
    saved = node.saved_tensors
    assert [t.dtype for t in saved] == [torch.float32] * 4 + [torch.bool]
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(4))
    ours = torch.autograd.grad(out, (q, k, v), grad_out)
    torch.manual_seed(9)
    probs = torch.softmax(q @ k.transpose(2, 3) * 0.5 + bias, dim=-1)
    expected = (drop(probs, 0.3) @ v).transpose(1, 2)
    theirs = torch.autograd.grad(expected, (q, k, v), grad_out)
    assert torch.allclose(out, expected, atol=1e-6)
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_masks_become_the_same_floats_as_torch_converts_them(dtype):
    keep = torch.rand(4, 3, 17, 17) > 0.3
    for mask in (keep, keep.transpose(-1, -2)):  # strided views too
        assert torch.equal(fast_dropout.as_floats(mask, dtype), mask.to(dtype))
