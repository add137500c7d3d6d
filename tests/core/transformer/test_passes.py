"""CPU inference plans its forward passes by what a pass costs: each pass costs a fixed part
(``overhead``, in wordpieces' time) plus its padded wordpieces, and the plan is the cheapest
one under the memory bound. Training keeps passes of bounded padding."""

from __future__ import annotations

import itertools
import random

import pytest

from spacy_transfer.core.transformer.passes import cheapest_buckets, length_buckets, plan_passes


def plan_cost(lengths, groups, overhead):
    return sum(overhead + len(g) * max(lengths[i] for i in g) for g in groups)


def brute_force_cost(lengths, max_items, overhead):
    """The cheapest plan over every split of the rows in length order (2^(n-1) plans)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    best = float("inf")
    for cuts in itertools.product([False, True], repeat=len(order) - 1):
        groups, current = [], [order[0]]
        for i, cut in zip(order[1:], cuts):
            if cut:
                groups.append(current)
                current = [i]
            else:
                current.append(i)
        groups.append(current)
        if all(len(g) == 1 or len(g) * max(lengths[i] for i in g) <= max_items for g in groups):
            best = min(best, plan_cost(lengths, groups, overhead))
    return best


@pytest.mark.parametrize("seed", range(12))
def test_the_plan_costs_no_more_than_the_best_split(seed):
    rng = random.Random(seed)
    lengths = [rng.randint(2, 60) for _ in range(rng.randint(1, 9))]
    overhead, max_items = rng.choice([0, 8, 32, 128, 1024]), rng.choice([60, 120, 400])
    groups = cheapest_buckets(lengths, max_items, overhead)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths))), "every row exactly once"
    assert plan_cost(lengths, groups, overhead) == pytest.approx(
        brute_force_cost(lengths, max_items, overhead)
    )


def test_free_passes_mean_no_padding_and_dear_passes_mean_few():
    lengths = [5, 9, 9, 30, 31, 5, 12]
    no_padding = cheapest_buckets(lengths, 10_000, overhead=0)
    assert all(len({lengths[i] for i in g}) == 1 for g in no_padding)
    assert len(cheapest_buckets(lengths, 10_000, overhead=1e6)) == 1


def test_a_pass_never_holds_more_than_the_bound_unless_one_row_does():
    lengths = [300, 40, 40, 40, 40, 40, 3]
    groups = cheapest_buckets(lengths, 100, overhead=1e6)
    assert [0] in groups, "a row longer than the bound passes alone"
    assert all(len(g) * max(lengths[i] for i in g) <= 100 for g in groups if g != [0])


def test_no_rows_no_passes():
    assert cheapest_buckets([], 1024, 64.0) == []


def test_training_and_the_gpu_keep_passes_of_bounded_padding():
    lengths = [5, 9, 9, 30, 31, 5, 12]
    assert plan_passes(lengths, 1024, None) == length_buckets(lengths, 1024)
    assert plan_passes(lengths, 1024, 16.0) == cheapest_buckets(lengths, 1024, 16.0)
