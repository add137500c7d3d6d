"""Forward passes over a batch of wordpiece rows, and back.

``length_buckets`` groups rows, longest first, into padded passes with bounded padding
(training: the same plan for the same batch, so a resumed run repeats it);
``cheapest_buckets`` into the passes that cost least given what a pass costs on this
machine (CPU inference, with :mod:`.pass_cost`'s measurement); ``assemble`` turns the
passes' outputs into per-Doc tensors (averaging rows seen by several windows of a long
span); ``group_gradients`` maps per-Doc gradients back onto the passes.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy
from thinc.util import xp2torch

from .alignment import EncodedBatch


def length_buckets(
    lengths: Sequence[int], max_items: int, max_padding: float = 0.1, small: int = 256
) -> List[List[int]]:
    """Row indices grouped longest first into forward passes: each pass has at most
    ``max_items`` padded wordpieces, and at most ``max_padding`` of them are padding unless
    the pass is ``small`` (tiny passes cost their fixed overhead, not their padding)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: List[List[int]] = []
    real = 0
    for i in order:
        if groups:
            longest = lengths[groups[-1][0]]
            padded = (len(groups[-1]) + 1) * longest
            if padded <= max_items and (
                padded <= small or padded <= (1.0 + max_padding) * (real + lengths[i])
            ):
                groups[-1].append(i)
                real += lengths[i]
                continue
        groups.append([i])
        real = lengths[i]
    return groups


def assemble(
    batch: EncodedBatch, results: List[Dict[str, Any]], where: List[Tuple[int, int]], width: int
) -> Tuple[List[Dict[str, Any]], Dict[int, Any]]:
    """Per Doc, its outputs shaped (spans, padded length, width) (pooler: (spans, width)).
    Rows seen by several windows of a long span are averaged; returns those counts too."""
    by_doc: List[List[int]] = [[] for _ in batch.wordpieces]
    for i, row in enumerate(batch.rows):
        by_doc[row.doc].append(i)
    if not results:  # no Doc has a span
        return [{} for _ in by_doc], {}
    keys = list(results[0].keys())
    device = results[0]["last_hidden_state"].device
    docs: List[Dict[str, Any]] = []
    counts: Dict[int, Any] = {}
    for d, members in enumerate(by_doc):
        n_spans, length = batch.n_spans(d), batch.padded_length(d)
        if not members:  # a Doc without spans: no outputs (spacy-transformers' TransformerData.empty())
            docs.append({})
        elif len(members) == 1 and n_spans == 1 and not batch.windowed[d]:
            g, j = where[members[0]]
            docs.append({k: _row_view(results[g][k], j, length) for k in keys})
        else:
            out, cnt = _gather_doc(batch, results, where, members, (n_spans, length, width), keys, device)
            if batch.windowed[d]:
                counts[d] = cnt
            docs.append(out)
    return docs, counts


def _gather_doc(
    batch: EncodedBatch,
    results: List[Dict[str, Any]],
    where: List[Tuple[int, int]],
    members: List[int],
    shape: Tuple[int, int, int],
    keys: List[str],
    device: Any,
) -> Tuple[Dict[str, Any], Any]:
    """One Doc's outputs from the rows of several spans or windows; rows seen by several
    windows averaged (returns the per-row counts too, None when unwindowed)."""
    import torch

    n_spans, length, width = shape
    out = {k: _zeros_like_output(results[0][k], n_spans, length, width, device) for k in keys}
    windowed = batch.windowed[batch.rows[members[0]].doc]
    if windowed:
        cnt = torch.zeros((n_spans, length), device=device)
        pool_cnt = torch.zeros((n_spans, 1), device=device)
        # attentions: per (query, key) pair, the windows that saw both
        pair_cnt = torch.zeros((n_spans, length, length), device=device) if "attentions" in keys else None
    for i in members:
        row, (g, j) = batch.rows[i], where[i]
        n = row.ids.shape[0]
        for k in keys:
            _place(out[k], results[g][k], j, n, row)
        if row.targets is not None:  # unwindowed spans keep count 0, which divides as 1
            targets = torch.from_numpy(row.targets).to(device)
            cnt[row.span].index_add_(0, targets, torch.ones((n,), device=device))
            pool_cnt[row.span] += 1
            if pair_cnt is not None:
                pair_cnt[row.span][targets[:, None], targets[None, :]] += 1
    if not windowed:
        return out, None
    return {k: _divide(out[k], cnt, pool_cnt, pair_cnt) for k in keys}, cnt


def _row_view(value: Any, j: int, length: int) -> Any:
    if isinstance(value, (tuple, list)):
        return [_row_view(v, j, length) for v in value]
    v = value.detach()[j : j + 1]
    if v.dim() == 4:  # attentions (1, heads, query, key)
        return v[:, :, :length, :length].float()
    return (v[:, :length] if v.dim() == 3 else v).float()


def _zeros_like_output(value: Any, n_spans: int, length: int, width: int, device: Any) -> Any:
    import torch

    if isinstance(value, (tuple, list)):
        return [_zeros_like_output(v, n_spans, length, width, device) for v in value]
    if value.dim() == 4:
        return torch.zeros((n_spans, value.shape[1], length, length), device=device)
    shape = (n_spans, length, width) if value.dim() == 3 else (n_spans, value.shape[-1])
    return torch.zeros(shape, device=device)


def _place(dest: Any, value: Any, j: int, n: int, row: Any) -> None:
    if isinstance(value, (tuple, list)):
        for dst, src in zip(dest, value):
            _place(dst, src, j, n, row)
        return
    src = value.detach()[j].float()
    if src.dim() == 1:  # pooler output: averaged over a long span's windows
        dest[row.span] += src
    elif src.dim() == 3:  # attentions (heads, query, key)
        if row.targets is None:
            dest[row.span, :, :n, :n] += src[:, :n, :n]
        else:
            import torch

            t = torch.from_numpy(row.targets).to(src.device)
            dest[row.span][:, t[:, None], t[None, :]] += src[:, :n, :n]
    elif row.targets is None:
        dest[row.span, :n] += src[:n]
    else:
        import torch

        dest[row.span].index_add_(0, torch.from_numpy(row.targets).to(src.device), src[:n])


def _divide(value: Any, cnt: Any, pool_cnt: Any, pair_cnt: Any = None) -> Any:
    if isinstance(value, list):
        return [_divide(v, cnt, pool_cnt, pair_cnt) for v in value]
    if value.dim() == 2:
        return value / pool_cnt.clamp(min=1)
    if value.dim() == 4:  # a pair no window saw together stays 0
        return value / pair_cnt.clamp(min=1).unsqueeze(1)
    return value / cnt.clamp(min=1).unsqueeze(-1)


def backward_pairs(
    batch: EncodedBatch,
    results: List[Dict[str, Any]],
    where: List[Tuple[int, int]],
    counts: Dict[int, Any],
    d_docs: Sequence[Optional[Any]],
) -> Tuple[List[Any], List[Any]]:
    """The (tensor, gradient) pairs that carry per-Doc gradients into the passes' graph:
    each pass's ``last_hidden_state``, and for each all-layers mix (:mod:`.mixing`) the
    pass's ``sum_l c_l * hidden_states[l]``, built here so autograd spreads it over the layers."""
    from .mixing import split_grads

    plain, mixes = split_grads(d_docs)
    tensors, grads = group_gradients(batch, results, where, counts, plain)
    for coefs, per_doc in mixes:
        by_pass = pass_gradients(batch, results, where, counts, per_doc)
        for g in sorted(by_pass):
            states = results[g]["hidden_states"]
            mixed = states[0] * coefs[0]
            for c, h in zip(coefs[1:], states[1:]):
                mixed = mixed + h * c
            tensors.append(mixed)
            grads.append(by_pass[g])
    return tensors, grads


def group_gradients(
    batch: EncodedBatch,
    results: List[Dict[str, Any]],
    where: List[Tuple[int, int]],
    counts: Dict[int, Any],
    d_docs: Sequence[Optional[Any]],
) -> Tuple[List[Any], List[Any]]:
    """Per forward pass, the gradient of its ``last_hidden_state`` from the per-Doc ones."""
    grads = pass_gradients(batch, results, where, counts, d_docs)
    order = sorted(grads)
    return [results[g]["last_hidden_state"] for g in order], [grads[g] for g in order]


def pass_gradients(
    batch: EncodedBatch,
    results: List[Dict[str, Any]],
    where: List[Tuple[int, int]],
    counts: Dict[int, Any],
    d_docs: Sequence[Optional[Any]],
) -> Dict[int, Any]:
    """Per forward pass (by index), a gradient shaped like its hidden states, from per-Doc
    gradients (rows seen by several windows get their share)."""
    import torch

    grads: Dict[int, Any] = {}
    d_torch: Dict[int, Any] = {}
    for row, (g, j) in zip(batch.rows, where):
        d = d_docs[row.doc] if row.doc < len(d_docs) else None
        if d is None:
            continue
        out = results[g]["last_hidden_state"]
        if row.doc not in d_torch:
            d_torch[row.doc] = xp2torch(d, device=out.device).to(out.dtype)
        src = d_torch[row.doc][row.span]
        if g not in grads:
            grads[g] = torch.zeros_like(out)
        n = row.ids.shape[0]
        if row.targets is None:  # seen once: its gradient as is
            grads[g][j, :n] = src[:n]
        else:
            targets = torch.from_numpy(row.targets).to(out.device)
            grads[g][j, :n] = src[targets] / counts[row.doc][row.span][targets].clamp(min=1).unsqueeze(-1)
    return grads


def plan_passes(lengths: Sequence[int], max_items: int, overhead: Optional[float]) -> List[List[int]]:
    """CPU inference (``overhead`` given: a pass's fixed cost measured on this machine) runs the
    cheapest passes; training, whose resumed run must repeat its plan, and the GPU run passes
    of bounded padding."""
    if overhead is None:
        return length_buckets(lengths, max_items)
    return cheapest_buckets(lengths, max_items, overhead)


def cheapest_buckets(lengths: Sequence[int], max_items: int, overhead: float) -> List[List[int]]:
    """Row indices grouped longest first into the passes that cost least when a pass costs
    ``overhead`` plus its padded wordpieces (both in a wordpiece's time): padding is worth
    adding while it costs less than a pass of its own. A pass holds at most ``max_items``
    padded wordpieces (a longer row passes alone). For this cost, passes of neighbours in
    length order are optimal, so a shortest path over the split points finds the best plan
    (O(rows x rows per pass), one numpy step per row)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    n = len(order)
    longest = numpy.asarray([lengths[i] for i in order], dtype="float64")
    best = numpy.full(n + 1, numpy.inf)
    best[0] = 0.0
    start = numpy.zeros(n + 1, dtype="int64")  # where the cheapest plan's last pass begins
    for i in range(n):  # a pass that starts at row i is padded to row i's length
        stop = min(n, i + max(1, int(max_items // max(longest[i], 1.0))))
        cost = best[i] + overhead + numpy.arange(1, stop - i + 1) * longest[i]
        better = cost < best[i + 1 : stop + 1]
        best[i + 1 : stop + 1][better] = cost[better]
        start[i + 1 : stop + 1][better] = i
    groups: List[List[int]] = []
    end = n
    while end > 0:
        groups.append(order[int(start[end]) : end])
        end = int(start[end])
    return groups[::-1]
