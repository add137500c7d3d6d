"""Benchmarks can run every side on an AVX2-only CPU's kernels (``BENCH_CPU_KERNELS=avx2``):
each child then runs torch's AVX2 code, the printed CPU line says so, and the results are
kept apart from the uncapped ones."""

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
