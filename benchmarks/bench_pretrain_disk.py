"""Disk used by `spacy-transfer pretrain` against `python -m spacy pretrain`, same run.

The default ``[pretraining]`` of ``init config --pretraining`` (characters objective,
``max_epochs`` 1,000, a weights file per epoch), a tiny tok2vec so that 1,000 epochs take
minutes, and a few WikiText-2 paragraphs as raw text. Both sides write every epoch's
weights; ours also keeps a resume state beside the newest weights file and model-last
(`--keep-states 1`, the default). Reported: the output folders' sizes (bytes on disk,
as ``du`` counts them) and the files in each. Sizes do not depend on the machine's load;
each side runs once.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

from ._common import DATA, WORK, loadavg, python_cmd, report, row, run_measured

EPOCHS = int(os.environ.get("BENCH_PRETRAIN_DISK_EPOCHS", 1000))
DOCS = 20
TINY = {
    "components.tok2vec.model.embed.width": 32,
    "components.tok2vec.model.encode.width": 32,
    "components.tok2vec.model.encode.depth": 1,
}


def prepare() -> Path:
    from spacy_transfer.core.config import ConfigRequest
    from spacy_transfer.core.config.generate import generate_config

    root = WORK / "pretrain_disk"
    root.mkdir(parents=True, exist_ok=True)
    with gzip.open(DATA / "raw_text" / "wikitext-2" / "valid.txt.gz", "rt", encoding="utf8") as f:
        texts = [t for t in (line.strip() for line in f) if len(t) > 40 and not t.startswith("=")][:DOCS]
    (root / "raw.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf8")
    (root / "config.cfg").write_text(generate_config(ConfigRequest(pipeline=["tagger"]), pretraining=True))
    return root


def disk_bytes(folder: Path) -> int:
    """Bytes on disk, each file once (as ``du``): allocated blocks, hard links counted once."""
    seen, total = set(), 0
    for p in folder.rglob("*"):
        st = p.stat()
        if p.is_file() and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def run_side(root: Path, side: str) -> dict:
    out = root / side
    if out.exists():
        import shutil

        shutil.rmtree(out)
    module = "spacy" if side == "spacy" else "spacy_transfer"
    overrides = [a for k, v in TINY.items() for a in (f"--{k}", str(v))]
    cmd = python_cmd(
        "-m",
        module,
        "pretrain",
        str(root / "config.cfg"),
        str(out),
        "--paths.raw_text",
        str(root / "raw.jsonl"),
        "--pretraining.max_epochs",
        str(EPOCHS),
        "--training.seed",
        "0",
        *overrides,
    )
    measured = run_measured(cmd)
    files = sorted(p.name for p in out.iterdir())
    result = {
        "disk_bytes": disk_bytes(out),
        "files": len(files),
        "states": [f for f in files if f.endswith(".safetensors")],
        "wall_s": measured["wall_s"],
    }
    for p in out.iterdir():  # keep the results folder small
        p.unlink()
    out.rmdir()
    return result


def main() -> dict:
    root = prepare()
    before = loadavg()
    runs = {side: run_side(root, side) for side in ("spacy", "ours")}
    for side, r in runs.items():
        print(side, {k: v for k, v in r.items() if k != "states"}, flush=True)
    ours, spacy = runs["ours"], runs["spacy"]
    rows = [
        row(
            f"pretrain output on disk, {EPOCHS} epochs (MiB)",
            round(ours["disk_bytes"] / 2**20, 2),
            round(spacy["disk_bytes"] / 2**20, 2),
            "<= 1.2",
        ),
        row("files written", ours["files"], spacy["files"]),
    ]
    notes = (
        f"init config --pipeline tagger --pretraining (characters objective), tok2vec width 32 depth 1, "
        f"{DOCS} WikiText-2 paragraphs, {EPOCHS} epochs, seed 0. Ours keeps resume states {runs['ours']['states']} "
        f"(--keep-states 1); older epochs keep their weights only, as spaCy's. Load average {before}."
    )
    return report("pretrain_disk", rows, notes, raw=runs)


if __name__ == "__main__":
    print(json.dumps(main(), indent=2, default=str))
