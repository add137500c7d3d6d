"""The anchors: spacy-transformers 1.4.0 and 2.0, each in a virtual environment of its own.

- ``st14``: spacy-transformers 1.4.0 from the package registry with ``transformers==4.53.2``
  (it needs ``transformers<4.53.3``, which cannot live beside our ``transformers>=5``).
- ``st20``: spacy-transformers 2.0 (main branch, not on the registry) from the wheel in
  ``../shared/anchors`` (or built from the source tarball there when the wheel does not fit
  this Python), on the same transformers version as ours: it separates what our design
  gains from what a newer transformers gains.

Benchmarks, fixture scripts and ``make compat-test`` create ``.bench-venvs/<name>`` (ignored
by git) on first use and run the anchor's side there, with the same CPU torch as ours.
Nothing from them is ever installed into the project's venv.

``python -m benchmarks._anchor [st14|st20]`` creates one ahead of time and prints the path of
its Python.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPACY_TRANSFER_SHARED", ROOT.parent / "shared"))
VENVS = ROOT / ".bench-venvs"
# Back-compat: SPACY_TRANSFER_ANCHOR_VENV names the 1.4 venv.
VENV = Path(os.environ.get("SPACY_TRANSFER_ANCHOR_VENV", VENVS / "st14"))


def _st20_source() -> Path:
    anchors = SHARED / "anchors"
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    wheels = sorted(anchors.glob(f"spacy_transformers-2.*-{tag}-{tag}-*.whl"))
    if wheels:
        return wheels[-1]
    sources = sorted(anchors.glob("spacy-transformers-2.*.tar.gz"))
    if not sources:
        raise FileNotFoundError(f"no spacy-transformers 2.x wheel or source in {anchors}")
    return sources[-1]


def _requirements(name: str) -> List[str]:
    if name == "st14":
        return ["spacy==3.8.*", "spacy-transformers==1.4.0", "transformers==4.53.2"]
    # Ours, pinned to what our venv runs, so only spacy-transformers differs.
    pins = [f"{p}=={md.version(p)}" for p in ("spacy", "transformers", "tokenizers")]
    return [*pins, str(_st20_source())]


def venv_dir(name: str) -> Path:
    return VENV if name == "st14" else VENVS / name


def _torch_spec() -> str:
    """The torch of our own venv, so both sides multiply with the same kernels."""
    import torch

    return f"torch=={torch.__version__.split('+')[0]}"


def anchor_python(name: str = "st14") -> Path:
    """Path of an anchor venv's Python, creating the venv if it is missing or incomplete."""
    venv = venv_dir(name)
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    requirements = _requirements(name)
    if marker.exists() and python.exists() and marker.read_text().split() == requirements:
        return python
    print(f"creating the {name} anchor venv in {venv} (once; a few minutes)", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    # torch first: a later requirement must not pull a CUDA build.
    subprocess.run([*pip, _torch_spec()], check=True)
    if str(requirements[-1]).endswith(".tar.gz"):  # the 2.0 source builds with its own Cython
        subprocess.run([*pip, "cython", "setuptools", "wheel", "numpy"], check=True)
        pip.append("--no-build-isolation")
    subprocess.run([*pip, _torch_spec(), *requirements], check=True)
    marker.write_text(" ".join(requirements) + "\n")
    return python


def anchor_pythons() -> Dict[str, Path]:
    return {name: anchor_python(name) for name in ("st14", "st20")}


def is_anchor(python: str) -> bool:
    """Whether ``python`` runs inside one of the anchor venvs."""
    path = Path(os.path.abspath(python))
    return any(path.is_relative_to(os.path.abspath(venv_dir(n))) for n in ("st14", "st20"))


if __name__ == "__main__":
    print(anchor_python(sys.argv[1] if len(sys.argv) > 1 else "st14"))
