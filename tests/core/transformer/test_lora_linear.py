"""The lean LoRA layer computes what peft's own LoRA ``Linear`` computes (outputs, the gradients
of the adapters and of the input), adds into the base output in place, runs a frozen base as one
autograd function that keeps no copy of a GELU's output, and hands every case it does not cover
back to peft."""

from __future__ import annotations

import copy

import peft
import pytest
import torch
from peft.tuners.lora.layer import Linear as PeftLoraLinear
from torch import nn

from spacy_transfer.core import upstream
from spacy_transfer.core.transformer import lora_linear
from spacy_transfer.core.transformer.lora_linear import LeanLoraLinear


class Block(nn.Module):
    def __init__(self, act=torch.relu) -> None:
        super().__init__()
        self.up = nn.Linear(12, 20)
        self.down = nn.Linear(20, 12)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.act(self.up(x)))


def pair(act=torch.relu, **settings):
    """The same block with peft's LoRA layers and with ours, adapters set to equal random values
    (peft freezes the base layers)."""
    torch.manual_seed(0)
    base = Block(act)
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["up", "down"], **settings)
    theirs = peft.inject_adapter_in_model(copy.deepcopy(config), copy.deepcopy(base))
    lean_config = copy.deepcopy(config)
    upstream.peft_use_lora_layer(lean_config, nn.Linear, LeanLoraLinear)
    ours = peft.inject_adapter_in_model(lean_config, copy.deepcopy(base))
    with torch.no_grad():
        for (name, p), (_, q) in zip(theirs.named_parameters(), ours.named_parameters()):
            if ".lora_" in name:
                p.copy_(torch.randn_like(p))
                q.copy_(p)
    return theirs, ours


def run(model: nn.Module, x: torch.Tensor):
    x = x.clone().requires_grad_(True)
    out = model(x)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return out.detach(), x.grad, grads


def assert_same_run(ours, theirs):
    """Equal outputs, input gradients and gradients of the same weights (two ``run`` results)."""
    (out_b, dx_b, grads_b), (out_a, dx_a, grads_a) = ours, theirs
    torch.testing.assert_close(out_b, out_a)
    torch.testing.assert_close(dx_b, dx_a)
    assert grads_a.keys() == grads_b.keys()
    for name in grads_a:
        torch.testing.assert_close(grads_b[name], grads_a[name], msg=name)


def test_peft_builds_our_layer_when_it_is_registered():
    theirs, ours = pair()
    assert type(theirs.up) is PeftLoraLinear
    assert type(ours.up) is LeanLoraLinear and type(ours.down) is LeanLoraLinear


def test_it_computes_peft_lora_outputs_and_gradients():
    theirs, ours = pair()
    x = torch.randn(3, 5, 12)
    ours_run = run(ours, x)
    assert_same_run(ours_run, run(theirs, x))
    assert any(".lora_A" in n for n in ours_run[2])


def test_only_the_adapters_get_gradients_when_the_base_is_frozen():
    _, ours = pair()
    for name, p in ours.named_parameters():
        p.requires_grad_(".lora_" in name)
    _, dx, grads = run(ours, torch.randn(2, 4, 12))
    assert dx is not None
    assert grads and all(".lora_" in name for name in grads)


def test_with_dropout_in_training_it_matches_peft_under_the_same_random_state():
    theirs, ours = pair(lora_dropout=0.5)
    x = torch.randn(2, 6, 12)
    torch.manual_seed(3)
    out_a, _, _ = run(theirs.train(), x)
    torch.manual_seed(3)
    out_b, _, _ = run(ours.train(), x)
    torch.testing.assert_close(out_b, out_a)


def test_under_bf16_autocast_it_is_as_close_to_fp32_as_peft():
    theirs, ours = pair()
    x = torch.randn(2, 4, 12)
    exact, _, _ = run(theirs, x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_a, _, _ = run(theirs, x)
        out_b, _, _ = run(ours, x)
    assert out_b.dtype == out_a.dtype == torch.bfloat16
    scale = exact.abs().max()
    for out in (out_a, out_b):  # bf16 keeps 8 bits of mantissa
        assert (out.float() - exact).abs().max() / scale < 2**-5


@pytest.mark.parametrize("state", ["merged", "disabled"])
def test_merged_or_disabled_adapters_go_through_peft(state):
    theirs, ours = pair()
    for model in (theirs, ours):
        for layer in (model.up, model.down):
            if state == "merged":
                layer.merge()
            else:
                layer.enable_adapters(False)
    x = torch.randn(2, 3, 12)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x))


def graph_nodes(out: torch.Tensor) -> set:
    names, todo = set(), [out.grad_fn]
    while todo:
        node = todo.pop()
        if node is not None:
            names.add(type(node).__name__)
            todo.extend(n for n, _ in node.next_functions)
    return names


@pytest.mark.parametrize(
    "act", [torch.relu, nn.functional.gelu, lambda h: nn.functional.gelu(h, approximate="tanh")]
)
@pytest.mark.parametrize("chunk_bytes", [lora_linear.RECOMPUTE_CHUNK_BYTES, 3 * 20 * 4])
def test_a_frozen_base_runs_as_one_function_with_peft_gradients(act, chunk_bytes, monkeypatch):
    monkeypatch.setattr(lora_linear, "RECOMPUTE_CHUNK_BYTES", chunk_bytes)  # 3 rows a chunk
    theirs, ours = pair(act)
    x = torch.randn(3, 5, 12)
    ours_run = run(ours, x)
    assert_same_run(ours_run, run(theirs, x))
    assert ours_run[2] and all(".lora_" in n for n in ours_run[2])
    assert "FrozenBaseLoraBackward" in graph_nodes(ours(x.requires_grad_(True)))


def test_the_output_of_a_gelu_is_not_kept_for_the_backward_pass():
    _, ours = pair(nn.functional.gelu)
    gelu_in, gelu_out, kept = [], [], set()
    ours.up.register_forward_hook(lambda _m, _i, out: gelu_in.append(out))
    ours.down.register_forward_pre_hook(lambda _m, args: gelu_out.append(args[0]))

    def pack(t):
        kept.add(t.untyped_storage().data_ptr())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        ours(torch.randn(2, 3, 12, requires_grad=True))
    assert gelu_in[0].untyped_storage().data_ptr() in kept  # kept by the GELU for its own backward
    assert gelu_out[0].untyped_storage().data_ptr() not in kept


def test_a_graph_kept_for_a_second_backward_pass_gives_the_same_gradients():
    _, ours = pair(nn.functional.gelu)
    out = ours(torch.randn(2, 3, 12))
    first = torch.autograd.grad(out.sum(), [ours.down.lora_A["default"].weight], retain_graph=True)
    second = torch.autograd.grad(out.sum(), [ours.down.lora_A["default"].weight])
    assert torch.equal(first[0], second[0])


def test_a_gelu_input_changed_in_place_before_the_backward_pass_is_refused():
    _, ours = pair(nn.functional.gelu)
    gelu_in = []
    ours.up.register_forward_hook(lambda _m, _i, out: gelu_in.append(out))
    out = ours(torch.randn(2, 3, 12))
    with torch.no_grad():
        gelu_in[0].add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_a_trainable_base_gets_peft_gradients_through_the_plain_path():
    theirs, ours = pair()
    for model in (theirs, ours):
        for p in model.parameters():
            p.requires_grad_(True)
    x = torch.randn(2, 4, 12)
    ours_run = run(ours, x)
    assert_same_run(ours_run, run(theirs, x))
    assert any(n.endswith("base_layer.weight") for n in ours_run[2])


def test_the_base_output_is_added_into_in_place():
    _, ours = pair()
    x = torch.randn(2, 3, 12)
    seen = []
    ours.up.base_layer.register_forward_hook(lambda _m, _i, out: seen.append(out.data_ptr()))
    with torch.no_grad():
        out = ours.up(x)
    assert seen == [out.data_ptr()]


def test_the_in_place_add_is_not_on_a_view_so_autograd_copies_no_gradient():
    """An in-place op on a view puts a CopySlices node in the graph, which clones the whole
    gradient in the backward pass (a trainable base takes the plain path)."""
    _, ours = pair()
    ours.up.base_layer.weight.requires_grad_(True)
    out = ours.up(torch.randn(2, 3, 12, requires_grad=True))
    names = graph_nodes(out)
    assert "CopySlices" not in names and any(n.startswith("Addmm") for n in names)
