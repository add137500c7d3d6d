"""Buffered embedding gradients: torch's gradients bit for bit, in a buffer that training
steps reuse, and torch's own embedding wherever that would not hold."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from spacy_transfer.core.transformer.embedding_grad import BufferedEmbedding, install

from .tiny import ARCHS


def _pair(padding_idx=None):
    torch.manual_seed(0)
    plain = nn.Embedding(50, 8, padding_idx=padding_idx)
    buffered = copy.deepcopy(plain)
    install(buffered)
    return plain, buffered


def _ids():
    # repeated ids (their rows' gradients sum) and the padding id
    return torch.tensor([[3, 7, 3, 0, 0], [7, 7, 1, 49, 0]])


@pytest.mark.parametrize("padding_idx", [None, 0])
def test_gradients_are_torchs_bit_for_bit(padding_idx):
    plain, buffered = _pair(padding_idx)
    assert isinstance(buffered, BufferedEmbedding) and isinstance(buffered, nn.Embedding)
    grad = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(1))
    a, b = plain(_ids()), buffered(_ids())
    assert torch.equal(a, b)
    a.backward(grad)
    b.backward(grad)
    assert torch.equal(plain.weight.grad, buffered.weight.grad)
    if padding_idx is not None:
        assert not buffered.weight.grad[padding_idx].any()


def test_gradients_accumulate_over_backward_passes_as_torchs_do():
    """Torch sums each pass's table and then the tables, ours adds each pass's rows into the
    total: the same sums up to float rounding where an id recurs within a later pass."""
    plain, buffered = _pair(0)
    for seed in (1, 2):
        grad = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(seed))
        plain(_ids()).backward(grad)
        buffered(_ids()).backward(grad)
    assert torch.allclose(plain.weight.grad, buffered.weight.grad, rtol=0, atol=1e-6)
    assert not buffered.weight.grad[0].any()


def test_a_cleared_gradient_comes_back_in_the_same_buffer_zeroed_first():
    _, buffered = _pair()
    buffered(_ids()).sum().backward()
    first = buffered.weight.grad
    address = first.data_ptr()
    buffered.weight.grad = None  # what the optimizer step does
    buffered(torch.tensor([[5]])).sum().backward()
    assert buffered.weight.grad.data_ptr() == address
    assert buffered.weight.grad.abs().sum(dim=1).nonzero().flatten().tolist() == [5]


def test_a_tied_weight_gets_both_gradients():
    """A masked-LM head reads the word table as its output weights: autograd's gradient
    from the head and ours from the lookup add up in the same ``.grad``."""
    plain, buffered = _pair()
    grads = []
    for emb in (plain, buffered):
        out = emb(_ids()) @ emb.weight.t()  # the table used twice
        out.square().sum().backward()
        grads.append(emb.weight.grad)
    assert torch.allclose(grads[0], grads[1], atol=1e-5)


def test_off_the_training_path_torchs_embedding_runs():
    _, buffered = _pair()
    buffered.eval()
    assert type(buffered(_ids()).grad_fn).__name__ == "EmbeddingBackward0"
    buffered.train()
    buffered.weight.requires_grad_(False)  # a frozen table
    assert buffered(_ids()).grad_fn is None
    buffered.weight.requires_grad_(True)
    with torch.no_grad():
        assert buffered(_ids()).grad_fn is None
    buffered.max_norm = 1.0
    assert type(buffered(_ids()).grad_fn).__name__ == "EmbeddingBackward0"


@pytest.mark.parametrize("arch", ARCHS)
def test_an_installed_encoder_trains_to_torchs_gradients(tiny_model, arch):
    from transformers import AutoModel

    plain = AutoModel.from_pretrained(str(tiny_model(arch)), local_files_only=True).train()
    buffered = copy.deepcopy(plain)
    assert install(buffered) >= 1
    assert buffered.state_dict().keys() == plain.state_dict().keys()
    ids = torch.randint(5, plain.config.vocab_size, (3, 9), generator=torch.Generator().manual_seed(0))
    for model in (plain, buffered):
        torch.manual_seed(3)
        model(input_ids=ids).last_hidden_state.square().sum().backward()
    for (name, p), q in zip(plain.named_parameters(), buffered.parameters()):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            assert torch.equal(p.grad, q.grad), name
