"""CPU prediction in bf16 runs a bf16 copy of the encoder: weights cast once, linear maps
that pad their rows to a grid (so oneDNN builds a kernel per grid step, not per pass size)
and give back only the real rows, and float32 outputs like the float32 encoder's."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertModel

from spacy_transfer.core import bf16


def _pair(n_in: int = 48, n_out: int = 80):
    torch.manual_seed(0)
    plain = torch.nn.Linear(n_in, n_out).to(torch.bfloat16)
    grid = torch.nn.Linear(n_in, n_out).to(torch.bfloat16)
    grid.load_state_dict(plain.state_dict())
    grid.__class__ = bf16.GridLinear
    return plain, grid


@pytest.mark.parametrize("shape", [(1, 48), (63, 48), (64, 48), (65, 48), (3, 70, 48), (7, 1, 48), (0, 48)])
def test_a_grid_linear_map_gives_the_rows_of_the_plain_one_whatever_their_count(shape):
    plain, grid = _pair()
    x = torch.randn(*shape).to(torch.bfloat16)
    out = grid(x)
    assert out.shape == (*shape[:-1], 80)
    torch.testing.assert_close(out, plain(x))


def test_the_rows_reach_the_product_padded_to_the_grid(monkeypatch):
    _, grid = _pair()
    rows = []
    product = torch.nn.functional.linear

    def counted(x, w, b=None):
        rows.append(x.shape[0])
        return product(x, w, b)

    monkeypatch.setattr(torch.nn.functional, "linear", counted)
    out = grid(torch.randn(3, 70, 48).to(torch.bfloat16))
    assert rows == [256] and out.shape == (3, 70, 80)  # 210 rows padded to 4 x 64


def _tiny_bert() -> BertModel:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    return BertModel(config).eval()


def test_a_bf16_copy_keeps_float32_outputs_close_to_the_float32_encoder():
    import copy

    model = _tiny_bert()
    ids = torch.randint(1, 100, (3, 9))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    with torch.inference_mode():
        want = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        got = bf16.bf16_copy(copy.deepcopy(model))(
            input_ids=ids, attention_mask=mask, output_hidden_states=True
        )
    assert got.last_hidden_state.dtype == torch.float32
    assert all(h.dtype == torch.float32 for h in got.hidden_states)
    cos = torch.nn.functional.cosine_similarity(got.last_hidden_state, want.last_hidden_state, dim=-1)
    assert cos[mask.bool()].min() > 0.99
    assert not torch.equal(got.last_hidden_state, want.last_hidden_state), "bf16 really ran"
    assert all(p.dtype == torch.float32 for p in model.parameters()), (
        "the encoder it was copied from is untouched"
    )


def test_a_copy_of_an_encoder_that_returns_tuples_returns_float32_tuples():
    copy = bf16.bf16_copy(_tiny_bert())
    with torch.inference_mode():
        out = copy(input_ids=torch.randint(1, 100, (2, 5)), return_dict=False)
    assert isinstance(out, tuple) and all(t.dtype == torch.float32 for t in out if t is not None)


def test_every_linear_map_of_the_copy_is_on_the_grid_in_bf16():
    copy = bf16.bf16_copy(_tiny_bert())
    linears = [m for m in copy.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(type(m) is bf16.GridLinear for m in linears)
    assert all(p.dtype == torch.bfloat16 for p in copy.parameters())


def test_in_float32_a_grid_linear_map_is_a_plain_one(monkeypatch):
    torch.manual_seed(0)
    grid = bf16.grid_rows(torch.nn.Sequential(torch.nn.Linear(48, 80)))[0]
    rows = []
    product = torch.nn.functional.linear
    monkeypatch.setattr(
        torch.nn.functional,
        "linear",
        lambda x, w, b=None: rows.append(x.numel() // x.shape[-1]) or product(x, w, b),
    )
    grid(torch.randn(3, 70, 48))
    assert rows == [210]
    with torch.autocast("cpu", dtype=torch.bfloat16):  # bf16 training on the CPU runs on the grid
        out = grid(torch.randn(3, 70, 48))
    assert rows == [210, 256] and out.shape == (3, 70, 80) and out.dtype == torch.bfloat16


def test_gradients_through_the_grid_are_the_plain_maps_under_autocast():
    torch.manual_seed(0)
    plain = torch.nn.Linear(48, 80)
    grid = bf16.grid_rows(torch.nn.Sequential(torch.nn.Linear(48, 80)))[0]
    grid.load_state_dict(plain.state_dict())
    x = torch.randn(5, 13, 48)
    for layer in (plain, grid):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            layer(x).float().pow(2).sum().backward()
    assert grid.weight.grad.dtype == torch.float32
    torch.testing.assert_close(grid.weight.grad, plain.weight.grad)
    torch.testing.assert_close(grid.bias.grad, plain.bias.grad)


def test_the_grid_comes_off_again():
    model = bf16.grid_rows(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()))
    assert type(model[0]) is bf16.GridLinear
    assert type(bf16.grid_rows(model, on=False)[0]) is torch.nn.Linear
