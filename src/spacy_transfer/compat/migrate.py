"""``migrate``: rewrite a pipeline saved by spacy-transformers 1.x or 2.x in our format.

Loading such a pipeline already works (``spacy.load`` reads its model files: 2.x's
safetensors, or 1.x's torch state dict with ``torch.load(weights_only=True)``); migrating
writes it once more as plain Hugging Face folders with safetensors weights, so later loads
need no pickle reader and the encoder opens with ``AutoModel.from_pretrained``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Union

from ..core.io import atomic_dir
from ..errors import UserError


def st_components(path: Path) -> List[str]:
    """Components of a saved pipeline whose transformer was written by spacy-transformers
    (a thinc model file whose shim holds a torch state dict)."""
    import srsly

    from .formats import is_st_shim_message

    found = []
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        model = sub / "model"
        if not model.is_file():
            continue
        try:
            msg = srsly.msgpack_loads(model.read_bytes())
            shims = [srsly.msgpack_loads(b) for node_shims in msg.get("shims", []) for b in node_shims]
        except Exception:  # not a thinc model file: nothing of ours to say about it
            continue
        if any(is_st_shim_message(m) for m in shims):
            found.append(sub.name)
    return found


def migrate_pipeline(
    source: Union[str, Path], output: Union[str, Path], force: bool = False
) -> Dict[str, Any]:
    import spacy

    source, output = Path(source), Path(output)
    if not source.exists():
        raise UserError(
            f"Pipeline not found: {source}",
            hint="Give the folder of a saved pipeline (it holds config.cfg and meta.json).",
        )
    if not (source / "config.cfg").is_file():
        raise UserError(
            f"{source} is not a saved spaCy pipeline: it has no config.cfg",
            hint="Give the folder that nlp.to_disk() or spacy package wrote.",
        )
    if output.exists() and not force:
        raise UserError(
            f"{output} already exists", hint="Choose a new folder, or pass --force to replace it."
        )
    if output.resolve() == source.resolve():
        raise UserError(
            "The output is the source pipeline", hint="Write the migrated pipeline to a new folder."
        )
    converted = st_components(source)
    try:
        nlp = spacy.load(source)
    except (OSError, ValueError, KeyError) as err:
        raise UserError(
            f"Could not load the pipeline {source}", rows=[("error", str(err).splitlines()[0][:200])]
        ) from err
    with atomic_dir(output) as tmp:
        nlp.to_disk(tmp)
    return {"components": list(nlp.pipe_names), "converted": converted}


__all__ = ["migrate_pipeline", "st_components"]
