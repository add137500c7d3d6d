"""Gradient all-reduce and weight checks over every trainable parameter of a pipeline."""

from __future__ import annotations

import hashlib
from typing import Iterable, Iterator, List, Sequence, Tuple, TypeVar

import numpy
import torch
from thinc.api import Model, torch2xp, xp2torch

from ..upstream import shim_module
from .context import DistContext

T = TypeVar("T")


def shard(batch: Sequence[T], ctx: DistContext) -> List[T]:
    """This rank's share of a batch (round-robin, so shards differ in size by at most one)."""
    return list(batch[ctx.rank :: ctx.world_size])


def unique_models(models: Iterable[Model]) -> List[Model]:
    """Every node reachable from ``models``, each once, in a stable walk order.

    Listeners and their upstream share nodes, so the same node can appear under two
    components; summing its gradient twice would double it.
    """
    seen = set()
    out = []
    for model in models:
        for node in model.walk():
            if node.id not in seen:
                seen.add(node.id)
                out.append(node)
    return out


def _torch_modules(node: Model) -> Iterator[torch.nn.Module]:
    for shim in node.shims:
        module = shim_module(shim)
        if isinstance(module, torch.nn.Module):
            yield module


def _thinc_slots(nodes: List[Model]) -> Iterator[Tuple[Model, str]]:
    for node in nodes:
        for name in node.param_names:
            if node.has_param(name):
                yield node, name


def _torch_params(nodes: List[Model]) -> Iterator[torch.nn.Parameter]:
    seen = set()
    for node in nodes:
        for module in _torch_modules(node):
            for param in module.parameters():
                if param.requires_grad and id(param) not in seen:
                    seen.add(id(param))
                    yield param


def _device(ctx: DistContext) -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if ctx.backend == "nccl" else torch.device("cpu")


def allreduce_gradients(models: Iterable[Model], ctx: DistContext, scale: float = 1.0) -> None:
    """Sum every gradient across ranks, in one flat buffer, before the optimizer step.

    spaCy's training losses are sums over the examples of a batch, so the sum of the
    shards' gradients is exactly the gradient of the whole batch: a step on N ranks equals
    a step of one process on the combined batch. A loss that is a mean over its shard
    (pretraining objectives, Hugging Face's masked-LM loss) needs each rank's gradients
    weighted by its share of the batch first: ``scale`` multiplies this rank's gradients
    before the sum. A parameter a rank has no gradient for (an empty shard) contributes
    zeros; one that no rank has a gradient for keeps none, so the optimizer skips it as
    it would in one process.
    """
    import torch.distributed as dist

    nodes = unique_models(models)
    device = _device(ctx)
    pieces: List[torch.Tensor] = []
    present: List[float] = []
    slots = list(_thinc_slots(nodes))
    for node, name in slots:
        param = node.get_param(name)
        has = node.has_grad(name)
        grad = node.get_grad(name) if has else node.ops.alloc(param.shape, dtype=param.dtype)
        pieces.append(_scaled(xp2torch(grad).to(device=device, dtype=torch.float32).reshape(-1), scale))
        present.append(float(has))
    tparams = list(_torch_params(nodes))
    for p in tparams:
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        pieces.append(_scaled(g.detach().to(device=device, dtype=torch.float32).reshape(-1), scale))
        present.append(float(p.grad is not None))
    if not pieces:
        return
    # The presence flags ride in the same buffer: still one collective per step.
    flat = torch.cat(pieces + [torch.tensor(present, dtype=torch.float32, device=device)])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flags = flat[-len(present) :].cpu().tolist()
    offset = 0
    for (node, name), flag in zip(slots, flags):
        param = node.get_param(name)
        size = int(numpy.prod(param.shape))
        chunk = flat[offset : offset + size].reshape(param.shape)
        offset += size
        if flag > 0:
            node.set_grad(name, _to_xp(chunk, param.dtype))
    for p, flag in zip(tparams, flags[len(slots) :]):
        size = p.numel()
        if flag > 0:
            p.grad = flat[offset : offset + size].reshape(p.shape).to(device=p.device, dtype=p.dtype).clone()
        offset += size


def _scaled(t: torch.Tensor, scale: float) -> torch.Tensor:
    return t if scale == 1.0 else t * scale


def _to_xp(t: torch.Tensor, dtype) -> "numpy.ndarray":  # type: ignore[no-untyped-def]
    # The buffer lives where the params live (CPU for gloo, the GPU for NCCL), so
    # torch2xp gives numpy or cupy to match the node's ops without a copy.
    return torch2xp(t.detach().contiguous()).astype(dtype, copy=False)


def broadcast_parameters(models: Iterable[Model], ctx: DistContext, src: int = 0) -> None:
    """Copy rank ``src``'s weights to every rank (a guard: same seeds should already agree)."""
    import torch.distributed as dist

    nodes = unique_models(models)
    device = _device(ctx)
    for node, name in _thinc_slots(nodes):
        param = node.get_param(name)
        t = xp2torch(param).to(device=device).contiguous().clone()
        dist.broadcast(t, src=src)
        node.set_param(name, _to_xp(t, param.dtype))
    for p in _torch_params(nodes):
        t = p.data.to(device=device).contiguous().clone()
        dist.broadcast(t, src=src)
        p.data.copy_(t.to(p.device))


def parameter_checksum(models: Iterable[Model]) -> str:
    """A hash of every parameter's bytes: equal across ranks iff the weights are identical."""
    h = hashlib.sha256()
    nodes = unique_models(models)
    for node, name in _thinc_slots(nodes):
        h.update(numpy.ascontiguousarray(node.ops.to_numpy(node.get_param(name))).tobytes())
    for p in _torch_params(nodes):
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
