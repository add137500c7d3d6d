"""Everything a pretraining run needs to continue exactly: ``model{N}.state.safetensors``.

Beside each weights file (``model{N}.bin``, ``model{N}.temp.bin``, ``model-last.bin``) the
loop writes one safetensors file holding

- the current (not averaged) parameters of the whole pretraining network: the tok2vec
  layer *and* the objective's output layer, by stable name ``param/<node index>/<name>``;
- the optimizer's Adam moments and parameter averages (``mom1/...``, ``mom2/...``,
  ``averages/...``) under the same stable names;
- the random states (Python, NumPy, torch, the masker's generator) and the position
  (epoch, batches done, schedule steps, progress counters) as JSON in the metadata.

The names and the optimizer, random-stream and network arrays are
:mod:`spacy_transfer.core.state`'s (the scheme training checkpoints use); this module
only places them in files. No pickle anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy

from ...errors import UserError
from ..io import atomic_write_parts

FORMAT = "spacy-transfer.pretrain-state.v1"
STATE_SUFFIX = ".state.safetensors"


def state_path(weights_path: Path) -> Path:
    """``model3.bin`` -> ``model3.state.safetensors`` (same folder)."""
    name = weights_path.name[: -len(".bin")] if weights_path.name.endswith(".bin") else weights_path.name
    return weights_path.with_name(name + STATE_SUFFIX)


def write_state(path: Path, arrays: Dict[str, numpy.ndarray], meta: Dict[str, Any]) -> None:
    from safetensors.numpy import save

    # Parts, not one joined copy: a masked-LM state (weights and Adam moments) is ~3x the model.
    atomic_write_parts(
        path, canonical_parts(save(arrays, metadata={"format": FORMAT, "state": json.dumps(meta)}))
    )


def canonical_safetensors(data: bytes) -> bytes:
    """``data`` with its metadata keys sorted, so equal contents give equal bytes."""
    return b"".join(canonical_parts(data))


def canonical_parts(data: bytes) -> List[Union[bytes, memoryview]]:
    """:func:`canonical_safetensors` as parts to write one after another, without copying
    the tensors.

    safetensors writes the metadata from a hash map whose order changes from call to
    call; a run and its resumed twin would otherwise write different bytes for the same
    weights. The header keeps its length (same keys, same values), so offsets stay valid.
    """
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    if "__metadata__" not in header:
        return [data]
    header = {
        "__metadata__": dict(sorted(header["__metadata__"].items())),
        **{k: v for k, v in header.items() if k != "__metadata__"},
    }
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf8")
    if len(text) > n:  # pragma: no cover - a header we cannot rewrite in place
        return [data]
    return [data[:8], text + b" " * (n - len(text)), memoryview(data)[8 + n :]]


def read_state(path: Path) -> Tuple[Dict[str, numpy.ndarray], Dict[str, Any]]:
    from safetensors import safe_open
    from safetensors.numpy import load

    try:
        data = path.read_bytes()
        arrays = load(data)
        with safe_open(str(path), framework="numpy") as f:
            header = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types for bad files
        raise UserError(
            f"Could not read the resume state {path}",
            rows=[(str(path), " ".join(str(e).split())[:200])],
            hint="The file is damaged; resume from an earlier model{N}.bin or start again.",
        ) from None
    if header.get("format") != FORMAT:
        raise UserError(
            f"{path} is not a pretraining resume state",
            rows=[(str(path), f"format {header.get('format')!r}")],
        )
    return arrays, json.loads(header["state"])


def find_state(weights_path: Path) -> Optional[Path]:
    """The resume state of a weights file: its own, or model-last's when that was saved
    right after it (same weights, so the run keeps one state for both)."""
    p = state_path(weights_path)
    if p.exists():
        return p
    last = weights_path.with_name("model-last" + STATE_SUFFIX)
    if (
        weights_path.name != "model-last.bin"
        and last.exists()
        and _meta(last).get("same_as") == weights_path.name
    ):
        return last
    return None


def _meta(path: Path) -> Dict[str, Any]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            return json.loads((f.metadata() or {}).get("state", "{}"))
    except Exception:
        return {}  # a damaged state is reported when it is read
