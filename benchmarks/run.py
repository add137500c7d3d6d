"""``make bench``: run every ``benchmarks/bench_*.py`` and summarise the results.

Each module defines ``main() -> dict`` (it saves its own JSON with ``save_result``); this
runner calls them in turn and writes the Markdown summary into ``benchmarks/README.md``.
Pass names to run a subset: ``python -m benchmarks.run transformer train``.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback

from ._common import RESULTS, ROOT

SUMMARY_START = "<!-- results:start -->"
SUMMARY_END = "<!-- results:end -->"


def discover() -> list:
    return sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py"))


def summarise() -> str:
    lines = []
    for path in sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text())
        lines.append(f"### {data.get('name', path.stem)}  ({data.get('time', '')})")
        m = data.get("machine", {})
        if isinstance(m, str):  # a one-off A/B names its machine in words
            lines.append(f"Machine: {m}")
        else:
            cpu = m.get("cpu") or {}
            cap = (
                f"; torch, oneDNN and MKL capped to {cpu['kernel_cap'].upper()} kernels"
                if cpu.get("kernel_cap")
                else ""
            )
            cpu_text = (
                f"; CPU {cpu.get('model')} ({' '.join(cpu.get('flags', [])) or 'no AVX2'}{cap})"
                if cpu
                else ""
            )
            lines.append(
                f"Machine: {m.get('cpus')} CPUs, {m.get('platform')}{cpu_text}; versions {m.get('versions')}"
            )
        lines.append("")
        if data.get("rows"):
            lines.append("| metric | ours | baseline | ratio | target |")
            lines.append("|---|---|---|---|---|")
            for row in data["rows"]:
                lines.append(
                    f"| {row.get('metric')} | {row.get('ours')} | {row.get('baseline')} | {row.get('ratio')} | {row.get('target', '')} |"
                )
        for table in [data["table"]] if data.get("table") else []:
            # A free-form table (the accuracy table): one column per key.
            keys = list(dict.fromkeys(k for row in table for k in row))
            lines.append("| " + " | ".join(keys) + " |")
            lines.append("|" + "---|" * len(keys))
            lines += ["| " + " | ".join(str(row.get(k, "")) for k in keys) + " |" for row in table]
        if data.get("notes"):
            lines.append("")
            lines.append(str(data["notes"]))
        lines.append("")
    return "\n".join(lines)


def write_summary() -> None:
    readme = ROOT / "benchmarks" / "README.md"
    text = readme.read_text() if readme.exists() else f"# Benchmarks\n\n{SUMMARY_START}\n{SUMMARY_END}\n"
    if SUMMARY_START not in text:
        text += f"\n{SUMMARY_START}\n{SUMMARY_END}\n"
    head, rest = text.split(SUMMARY_START, 1)
    _, tail = rest.split(SUMMARY_END, 1)
    readme.write_text(f"{head}{SUMMARY_START}\n{summarise()}\n{SUMMARY_END}{tail}")


def main(argv: list) -> int:
    names = [f"bench_{n}" if not n.startswith("bench_") else n for n in argv] or discover()
    failed = []
    for name in names:
        print(f"=== {name}", flush=True)
        try:
            importlib.import_module(f"benchmarks.{name}").main()
        except Exception:
            traceback.print_exc()
            failed.append(name)
    write_summary()
    if failed:
        print(f"✘ failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
