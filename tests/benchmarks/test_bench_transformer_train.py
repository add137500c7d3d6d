"""The training benchmark can run a subset of its sides (BENCH_TRAIN_SIDES, e.g. ``ours,st20``
for the goal's pair on capped kernels, which take twice as long) and reports ours against
each anchor that ran, and only those."""

from __future__ import annotations

import pytest

from benchmarks import bench_transformer_train as btt

SIDES = {"ours": (), "ours_malloc": (), "st": (), "st20": (), "ours_mp": ()}


def test_every_float32_side_runs_unless_asked_and_mixed_precision_where_bf16_pays(monkeypatch):
    from spacy_transfer.core import cpu

    monkeypatch.delenv("BENCH_TRAIN_SIDES", raising=False)
    mixed = ["ours_mp"] if cpu.bf16_pays() else []
    assert btt.chosen_sides(SIDES) == ["ours", "ours_malloc", "st", "st20", *mixed]


def test_ours_always_runs_beside_the_sides_asked_for(monkeypatch):
    monkeypatch.setenv("BENCH_TRAIN_SIDES", "st20")
    assert btt.chosen_sides(SIDES) == ["ours", "st20"]


def test_an_unknown_side_stops_and_names_the_choices(monkeypatch):
    monkeypatch.setenv("BENCH_TRAIN_SIDES", "ours,st3")
    with pytest.raises(
        SystemExit,
        match=r"unknown side\(s\) \['st3'\]; choose from ours, ours_malloc, st, st20, ours_mp",
    ):
        btt.chosen_sides(SIDES)


def test_rows_compare_ours_with_the_anchors_that_ran():
    ours = {"s_per_100": 80.0, "peak_rss_mib": 1300.0, "tag_acc": 0.80}
    st20 = {"s_per_100": 120.0, "peak_rss_mib": 4000.0, "tag_acc": 0.62}
    rows = btt.result_rows({"ours": ours, "st20": st20}, steps=120)
    assert all("2.0" in r["metric"] for r in rows)
    speed = next(r for r in rows if r["metric"].startswith("training steps/s"))
    assert speed["ratio"] == 1.5


def test_mixed_precision_is_compared_with_2_0s_float32_on_its_own_rows():
    ours = {"s_per_100": 80.0, "peak_rss_mib": 1300.0, "tag_acc": 0.80}
    mixed = {"s_per_100": 50.0, "peak_rss_mib": 1500.0, "tag_acc": 0.80}
    st20 = {"s_per_100": 120.0, "peak_rss_mib": 4000.0, "tag_acc": 0.62}
    rows = btt.result_rows({"ours": ours, "st20": st20, "ours_mp": mixed}, steps=120)
    both = [r for r in rows if "with mixed_precision = true (bf16)" in r["metric"]]
    assert [r["ratio"] for r in both] == [2.4, 0.375, 1.29] and all(r["target"] == "(info)" for r in both)
