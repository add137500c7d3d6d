"""A/B of source trees on ``bench_peft``'s child: is a change to the training step worth it?

Each side is a label, a source tree (its ``src`` goes first on ``PYTHONPATH``) and one of the
configs ``bench_peft`` wrote (``results/tmp/peft-bert-WORDS-ROW.cfg``). Every round runs each
side once, in its own process, in alternating order; the JSON keeps every run, the medians and
the load average before and after. Not run by ``make bench`` (it needs the trees to compare):

    git worktree add /tmp/before <commit>
    python benchmarks/ab_peft.py --name NAME \\
        --side "before=/tmp/before:lora-r-8" --side "after=.:lora-r-8" --side "full=.:full-fine-tuning"

A side runs on the allocator ``spacy-transfer train`` uses (tcmalloc where installed) unless
it names one: ``--side "lora glibc=.:lora-r-8@system"``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

# Benchmark children run as scripts (python benchmarks/NAME.py --child ...): the package from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import bench_peft
from benchmarks._common import WORK, alternate, cpu_line, loadavg, medians, row, save_ab


def parse_side(text: str) -> Tuple[str, Path, str, Optional[str]]:
    """``label=TREE:ROW[@ALLOCATOR]`` -> (label, the tree's src folder, the row's slug, the
    allocator as ``SPACY_TRANSFER_ALLOCATOR`` takes it, or None for the training commands' own)."""
    label, _, rest = text.rpartition("=")  # labels may hold "=" (r=8), trees rarely do
    rest, at, alloc = rest.partition("@")
    tree, _, row = rest.rpartition(":")
    src = Path(tree).resolve() / "src"
    if not label or not row or (at and not alloc) or not (src / "spacy_transfer").is_dir():
        raise SystemExit(
            f"--side {text!r}: expected LABEL=TREE:ROW or LABEL=TREE:ROW@ALLOCATOR with TREE/src/spacy_transfer present"
        )
    return label, src, row, alloc or None


def run_side(src: Path, config: Path, steps: int, warmup: int, alloc: Optional[str]) -> Dict[str, Any]:
    res = bench_peft.run_child(
        config, WORK / "peft-train.spacy", WORK / "peft-test.spacy", steps, warmup, False, src, alloc
    )
    return {"update_s": res["update_s"], "steps": res["steps"], "peak_rss_mib": res["peak_rss_mib"]}


def main(argv: List[str]) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--side", action="append", required=True)
    parser.add_argument("--words", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args(argv)
    sides = [parse_side(s) for s in args.side]
    for _, _, slug, _ in sides:
        if not (WORK / f"peft-bert-{args.words}-{slug}.cfg").exists():
            raise SystemExit(f"no {WORK}/peft-bert-{args.words}-{slug}.cfg: run bench_peft once first")
    by_label = {side[0]: side for side in sides}
    load_before = loadavg()
    print(cpu_line(), "load average", load_before, flush=True)

    def run(label: str) -> Dict[str, Any]:
        _, src, slug, alloc = by_label[label]
        return run_side(src, WORK / f"peft-bert-{args.words}-{slug}.cfg", args.steps, args.warmup, alloc)

    runs = alternate(list(by_label), args.rounds, run)
    meds = medians(runs, ("update_s", "peak_rss_mib"), 2)
    for label, m in meds.items():
        print(f"{label}: {m['update_s']} s per {args.steps} steps, {m['peak_rss_mib']} MiB (medians)")
    first = sides[0][0]
    rows = []
    for label in list(meds)[1:]:
        a, b = meds[label], meds[first]
        rows.append(
            row(
                f"{label} steps/s vs {first}",
                round(args.steps / a["update_s"], 3),
                round(args.steps / b["update_s"], 3),
            )
        )
        rows.append(row(f"{label} peak RSS MiB vs {first}", a["peak_rss_mib"], b["peak_rss_mib"]))
    protocol = (
        f"bench_peft's child on the BERT-base-sized encoder, {args.words}-word batches, {args.steps} timed "
        f"steps after {args.warmup}, each run its own process, sides alternating, {args.rounds} rounds, medians"
    )
    described = {
        label: f"{src.parent}:{slug}@{alloc or bench_peft.training_allocator().get('LD_PRELOAD', 'system')}"
        for label, src, slug, alloc in sides
    }
    return save_ab(args.name, protocol, described, load_before, runs, meds, rows)


if __name__ == "__main__":
    main(sys.argv[1:])
