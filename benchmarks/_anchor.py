"""The anchor: spacy-transformers 1.4.0 in a virtual environment of its own.

spacy-transformers 1.4 needs ``transformers<4.53.3``, which cannot live beside our
``transformers>=5``; so benchmarks and fixture scripts create ``.bench-venvs/st14``
(ignored by git) on first use and run the anchor's side there, with the same CPU torch
as ours. Nothing from it is ever installed into the project's venv.

Run ``python -m benchmarks._anchor`` to create it ahead of time; it prints the path of
its Python.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("SPACY_TRANSFER_ANCHOR_VENV", ROOT / ".bench-venvs" / "st14"))
REQUIREMENTS = ["spacy==3.8.*", "spacy-transformers==1.4.0", "transformers==4.53.2"]


def _torch_spec() -> str:
    """The torch of our own venv, so both sides multiply with the same kernels."""
    import torch

    return f"torch=={torch.__version__.split('+')[0]}"


def anchor_python() -> Path:
    """Path of the anchor venv's Python, creating the venv if it is missing or incomplete."""
    python = VENV / "bin" / "python"
    marker = VENV / ".installed"
    if marker.exists() and python.exists():
        return python
    print(
        f"creating the spacy-transformers 1.4.0 venv in {VENV} (once; a few minutes)",
        file=sys.stderr,
        flush=True,
    )
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    # torch first: a later requirement must not pull a CUDA build.
    subprocess.run([*pip, _torch_spec()], check=True)
    subprocess.run([*pip, _torch_spec(), *REQUIREMENTS], check=True)
    marker.write_text(" ".join(REQUIREMENTS) + "\n")
    return python


if __name__ == "__main__":
    print(anchor_python())
