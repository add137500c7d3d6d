"""Real virtual environments for the coexistence tests: a fresh venv that holds the
project venv's third-party packages (hard links, so it takes seconds and no network),
without spacy-transfer, into which the tests pip-install the real wheels: ours, built
from this checkout, and spacy-transformers 2.0 from ``../shared/anchors``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SPACY_TRANSFER_SHARED", REPO.parent / "shared"))
OURS = ("spacy_transfer", "__editable__.spacy_transfer", "_spacy_transfer_st", "spacy_transfer_st.pth")


def st20_wheel() -> Optional[Path]:
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    wheels = sorted((SHARED / "anchors").glob(f"spacy_transformers-2.*-{tag}-{tag}-*.whl"))
    return wheels[-1] if wheels else None


def build_our_wheel(out: Path) -> Path:
    """``pip wheel`` of a copy of this checkout's sources (the build writes beside them)."""
    src = out / "src-copy"
    shutil.copytree(REPO / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(REPO / name, src / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            str(src),
            "-w",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return next(out.glob("spacy_transfer-*.whl"))


def clone_venv(dest: Path) -> Path:
    """A venv at ``dest`` with this venv's packages but none of spacy-transfer's files; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    python = dest / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    ours = Path(sysconfig.get_paths()["purelib"])
    for entry in ours.iterdir():
        if entry.name.startswith(OURS) or entry.name == "__pycache__":
            continue
        if entry.is_dir():
            shutil.copytree(entry, site / entry.name, copy_function=os.link, symlinks=True)
        else:
            os.link(entry, site / entry.name)
    return python


def pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "-q", *args],
        check=True,
        capture_output=True,
        text=True,
    )


def install(python: Path, *wheels: Path) -> None:
    """Install each wheel in order, as a user would one after the other (dependencies are
    already there; spacy-transformers' one extra dependency comes from the registry)."""
    for wheel in wheels:
        pip(python, "install", "--no-deps", str(wheel))
        if wheel.name.startswith("spacy_transformers"):
            pip(python, "install", "spacy-alignments>=0.7.2,<1.0.0")


def record(python: Path, dist: str) -> List[Path]:
    """The files a distribution installed (its RECORD), as absolute paths."""
    code = (
        "import json, importlib.metadata as m; d = m.distribution(%r); "
        "print(json.dumps([str(d.locate_file(f)) for f in d.files]))" % dist
    )
    out = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True).stdout
    return [Path(p) for p in json.loads(out)]


def run(python: Path, args: List[str], env: Optional[Dict[str, str]] = None, cwd: Optional[Path] = None):
    full = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SPACY_TRANSFORMERS_IMPL")}
    return subprocess.run(
        [str(python), *args],
        env={**full, **(env or {})},
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def probe(python: Path, pipelines: List[Path], env: Optional[Dict[str, str]] = None) -> dict:
    # -c, not the script's path: its folder (tests/compat) holds a test package named spacy_transformers.
    code = (Path(__file__).parent / "probe.py").read_text()
    out = run(python, ["-c", code, *map(str, pipelines)], env=env, cwd=REPO.parent)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])
