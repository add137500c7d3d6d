"""Helpers every benchmark uses: measure a command's time and peak memory, save results.

Each benchmark compares two sides measured side by side in one run and reports both
figures and their ratio; results go to ``benchmarks/results/NAME.json``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED = Path(os.environ.get("SPACY_TRANSFER_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"
WORK = ROOT / "benchmarks" / "results" / "tmp"

# BENCH_CPU_KERNELS=avx2 runs every side (ours, plain HF, the anchors) on the AVX2 code of
# torch, oneDNN, MKL (fp32 matrix products) and fbgemm (int8), on whatever CPU this is: the
# closest this machine gets to an AVX2-only CPU (same caches, clocks and memory). Results
# then go to NAME_avx2.json beside the uncapped ones.
KERNEL_CAPS: Dict[str, Dict[str, str]] = {
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
    },
}


def kernel_cap() -> Optional[str]:
    """The kernel cap BENCH_CPU_KERNELS asks for (None: what the CPU has); a bad value stops."""
    value = os.environ.get("BENCH_CPU_KERNELS", "").strip().lower()
    if value in ("", "native"):
        return None
    if value not in KERNEL_CAPS:
        raise SystemExit(
            f"BENCH_CPU_KERNELS={value!r} is not a kernel cap. Use one of: native, {', '.join(KERNEL_CAPS)}."
        )
    return value


def apply_kernel_cap() -> Optional[str]:
    """Set the cap's variables in this process's environment, before torch loads here, so
    this process and every child it starts run the capped kernels."""
    cap = kernel_cap()
    if cap is not None:
        os.environ.update(KERNEL_CAPS[cap])
    return cap


apply_kernel_cap()


def run_measured(
    cmd: List[str], env: Optional[Dict[str, str]] = None, cwd: Optional[Path] = None
) -> Dict[str, Any]:
    """Run ``cmd``; return wall seconds and that child's own peak RSS (MiB), failing loudly."""
    import tempfile

    with tempfile.TemporaryFile(mode="w+") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env=child_env(cmd[0], env), cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True
        )
        # wait4 (not Popen.wait) so the rusage is this child's alone.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        out = log.read()
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark command failed ({proc.returncode}): {' '.join(cmd)}\n{out[-4000:]}")
    # cpu_s (user + system) is steadier than wall time when other work shares the machine.
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "output": out,
    }


def child_env(python: str, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment of a benchmark child. The anchor's Python never sees our ``src`` on
    PYTHONPATH: it would import our ``spacy_transformers`` package instead of the real one."""
    env = {**os.environ, **(extra or {})}
    from ._anchor import is_anchor

    if is_anchor(python) and env.get("PYTHONPATH"):
        src = (ROOT / "src").resolve()
        keep = [p for p in env["PYTHONPATH"].split(os.pathsep) if p and Path(p).resolve() != src]
        env["PYTHONPATH"] = os.pathsep.join(keep)
    return env


def last_json(output: str) -> Any:
    """What a benchmark child printed last: its one JSON line, after whatever it logged."""
    return json.loads(output.strip().splitlines()[-1])


def python_cmd(*args: str) -> List[str]:
    return [sys.executable, *args]


def machine() -> Dict[str, Any]:
    import importlib.metadata as md

    def v(p: str) -> str:
        try:
            return md.version(p)
        except md.PackageNotFoundError:
            return "-"

    from spacy_transfer.core import cpu

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        # Our machines differ (AVX-512/AMX or AVX2 only): every figure says which CPU gave it.
        "cpu": {**cpu.features().as_dict(), "kernel_cap": kernel_cap()},
        "versions": {p: v(p) for p in ("spacy", "thinc", "torch", "transformers", "spacy-transfer")},
    }


def cpu_line() -> str:
    """The CPU model and its relevant flags, printed beside every comparison."""
    from spacy_transfer.core import cpu

    f = cpu.features()
    cap = kernel_cap()
    capped = (
        f", capped by BENCH_CPU_KERNELS={cap}: {' '.join(f'{k}={v}' for k, v in KERNEL_CAPS[cap].items())}"
        if cap
        else ""
    )
    return f"CPU: {f.model} [{' '.join(f.flags) or 'no AVX2'}; torch kernels {f.kernels}{capped}]"


def save_result(name: str, result: Dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    cap = kernel_cap()
    name = f"{name}_{cap}" if cap else name
    path = RESULTS / f"{name}.json"
    payload = {"name": name, "machine": machine(), "time": time.strftime("%Y-%m-%d %H:%M:%S"), **result}
    path.write_text(json.dumps(payload, indent=2))
    return path


def report(name: str, rows: List[Dict[str, Any]], notes: str, raw: Any = None) -> Dict[str, Any]:
    """Save ``results/NAME.json`` and print the rows and notes; returns the result."""
    result = {"rows": rows, "notes": notes, "raw": raw}
    save_result(name, result)
    print(cpu_line())
    for row in rows:
        print(
            f"{row['metric']}: ours {row['ours']}  baseline {row['baseline']}  ratio {row['ratio']} (target {row.get('target', '')})"
        )
    print(notes)
    return result


def loadavg() -> str:
    """The 1/5/15-minute load averages, printed beside every comparison (shared machines)."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


Runs = Dict[str, List[Dict[str, Any]]]


def alternate(
    sides: Sequence[str],
    rounds: int,
    run: Callable[[str], Dict[str, Any]],
    show: Callable[[Dict[str, Any]], str] = str,
) -> Runs:
    """Run every side once a round (``run`` starts its own process), the order reversed every
    other round so a drift in the machine's load falls on all sides alike; print each run."""
    order = list(sides)
    runs: Runs = {side: [] for side in order}
    for r in range(rounds):
        for side in order if r % 2 == 0 else order[::-1]:
            runs[side].append(run(side))
            print(f"  round {r + 1} {side}: {show(runs[side][-1])}", flush=True)
    return runs


def medians(runs: Runs, keys: Iterable[str], digits: Optional[int] = None) -> Dict[str, Dict[str, float]]:
    """Each side's median of each measure, rounded to ``digits`` if given."""
    keys = list(keys)

    def med(values: Iterable[float]) -> float:
        m = statistics.median(values)
        return m if digits is None else round(m, digits)

    return {side: {k: med(x[k] for x in rs) for k in keys} for side, rs in runs.items()}


def save_ab(
    name: str,
    protocol: str,
    sides: Dict[str, str],
    load_before: str,
    runs: Runs,
    meds: Dict[str, Any],
    rows: List[Dict[str, Any]],
) -> Dict[str, Any]:
    """Print an A/B's rows and save its record: protocol (with the CPU), what each side ran,
    the load average before and after, every run, the medians and the rows."""
    for r in rows:
        print(f"{r['metric']}: {r['ours']} vs {r['baseline']} = {r['ratio']}")
    result = {
        "protocol": f"{protocol}; {cpu_line()}",
        "sides": sides,
        "load_avg_before_after": [load_before, loadavg()],
        "runs": runs,
        "medians": meds,
        "rows": rows,
    }
    save_result(name, result)
    return result


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


def row(metric: str, ours: float, baseline: float, target: str = "(info)") -> Dict[str, Any]:
    """One line of a result table: both figures and their ratio."""
    return {
        "metric": metric,
        "ours": ours,
        "baseline": baseline,
        "ratio": ratio(ours, baseline),
        "target": target,
    }
