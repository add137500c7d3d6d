"""What every benchmark shares. Sides run in alternating order, one process each, and are
compared by their medians; an A/B keeps every run with the load and the CPU. Benchmarks can
run every side on an AVX2-only CPU's kernels (``BENCH_CPU_KERNELS=avx2``): each child then
runs torch's AVX2 code, the printed CPU line says so, and the results are kept apart from the
uncapped ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import _common

ROOT = Path(__file__).resolve().parents[2]

CAPPED_RUN = """
import json, sys
from benchmarks import _common
child = _common.run_measured([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"])
print(json.dumps({"child": child["output"].strip().splitlines()[-1], "line": _common.cpu_line()}))
"""


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}", **env}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True)


def test_a_capped_benchmark_starts_its_children_on_avx2_kernels_and_says_so():
    done = _python(CAPPED_RUN, BENCH_CPU_KERNELS="avx2")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["child"] == "AVX2"
    assert "torch kernels AVX2, capped by BENCH_CPU_KERNELS=avx2" in out["line"]
    assert "MKL_ENABLE_INSTRUCTIONS=AVX2 FBGEMM_ENABLE_INSTRUCTIONS=AVX2" in out["line"]


def test_an_unknown_cap_stops_before_anything_runs_and_names_the_choices():
    done = _python("import benchmarks._common", BENCH_CPU_KERNELS="avx3")
    assert done.returncode != 0
    assert "BENCH_CPU_KERNELS='avx3' is not a kernel cap. Use one of: native, avx2." in done.stderr


def test_capped_results_are_saved_beside_the_uncapped_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "RESULTS", tmp_path)
    monkeypatch.delenv("BENCH_CPU_KERNELS", raising=False)
    _common.save_result("transformer", {"rows": []})
    monkeypatch.setenv("BENCH_CPU_KERNELS", "avx2")
    _common.save_result("transformer", {"rows": []})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["transformer.json", "transformer_avx2.json"]
    capped = json.loads((tmp_path / "transformer_avx2.json").read_text())
    assert (capped["name"], capped["machine"]["cpu"]["kernel_cap"]) == ("transformer_avx2", "avx2")
    assert json.loads((tmp_path / "transformer.json").read_text())["machine"]["cpu"]["kernel_cap"] is None


@pytest.mark.parametrize("value", ["", "native", " Native "])
def test_native_or_nothing_means_no_cap(monkeypatch, value):
    monkeypatch.setenv("BENCH_CPU_KERNELS", value)
    assert _common.kernel_cap() is None


def test_sides_run_once_a_round_in_an_order_reversed_every_other_round(capsys):
    order = []

    def run(side: str) -> dict:
        order.append(side)
        return {"n": len(order)}

    runs = _common.alternate(["a", "b", "c"], 3, run, lambda x: f"run {x['n']}")
    assert order == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]
    assert runs == {
        "a": [{"n": 1}, {"n": 6}, {"n": 7}],
        "b": [{"n": 2}, {"n": 5}, {"n": 8}],
        "c": [{"n": 3}, {"n": 4}, {"n": 9}],
    }
    assert "  round 2 c: run 4" in capsys.readouterr().out.splitlines()


def test_medians_are_taken_per_side_and_measure_and_rounded_when_asked():
    runs = {
        "ours": [{"s": 3.0, "mib": 10}, {"s": 1.0, "mib": 30}, {"s": 2.0, "mib": 20}],
        "hf": [{"s": 5.0, "mib": 7}],
    }
    assert _common.medians(runs, ["s", "mib"]) == {"ours": {"s": 2.0, "mib": 20}, "hf": {"s": 5.0, "mib": 7}}
    assert _common.medians({"x": [{"s": 1.0}, {"s": 2.0}]}, ["s"], 0) == {"x": {"s": 2.0}}


def test_an_ab_record_keeps_every_run_the_load_and_the_cpu(tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "RESULTS", tmp_path)
    monkeypatch.delenv("BENCH_CPU_KERNELS", raising=False)
    runs = {"before": [{"wps": 10.0}], "after": [{"wps": 12.0}]}
    rows = [_common.row("words/s, after vs before", 12.0, 10.0)]
    _common.save_ab("ab", "two trees", {"before": "/a", "after": "/b"}, "0.10 0.20 0.30", runs, {}, rows)
    saved = json.loads((tmp_path / "ab.json").read_text())
    assert saved["protocol"].startswith("two trees; CPU: ")
    assert saved["load_avg_before_after"][0] == "0.10 0.20 0.30"
    assert (saved["runs"], saved["rows"][0]["ratio"], saved["sides"]["after"]) == (runs, 1.2, "/b")
