"""Build a starter training config for ``init config``.

The config is assembled as INI text from small per-component blocks (raw values are
written exactly as they will appear), then filled with every default by spaCy so the
result is complete. Two embedding setups, as in spaCy's guide: ``shared`` (one
tok2vec or transformer component, the others listen to it) and ``independent`` (each
component carries its own embedding layer).
"""

from __future__ import annotations

from ...errors import UserError
from .blocks import component_blocks, needs_shared_layer, shared_component, training_blocks
from .request import EMBEDDING, OPTIMIZE, PIPES, Blocks, ConfigRequest, validate_request

__all__ = [
    "EMBEDDING",
    "OPTIMIZE",
    "PIPES",
    "ConfigRequest",
    "build_config_text",
    "generate_config",
    "render",
]


def render(blocks: Blocks) -> str:
    """INI text with sections in a stable, readable order."""
    order = ["paths", "system", "nlp", "components", "corpora", "training", "pretraining", "initialize"]

    def key(path: str) -> tuple:
        top = path.split(".")[0]
        return (order.index(top) if top in order else len(order), path)

    out = []
    for path in sorted(blocks, key=key):
        out.append(f"[{path}]")
        out += [f"{k} = {v}" for k, v in blocks[path].items()]
        out.append("")
    return "\n".join(out)


def build_config_text(req: ConfigRequest) -> str:
    """The unfilled config for a request (``fill_config`` completes it)."""
    validate_request(req)
    pipeline = list(req.pipeline)
    blocks: Blocks = {}
    if needs_shared_layer(req):
        shared = "transformer" if req.use_transformer else "tok2vec"
        pipeline = [shared] + pipeline
        blocks.update(shared_component(req))
    for name in req.pipeline:
        blocks.update(component_blocks(name, req))
    blocks.update(training_blocks(req, pipeline))
    return render(blocks)


def generate_config(req: ConfigRequest, *, pretraining: bool = False) -> str:
    """A complete, validated config text for ``init config``."""
    from spacy import util
    from thinc.api import Config

    from .fill import fill_config

    validate_request(req)
    if req.use_transformer and not util.registry.has("architectures", "spacy-transfer.TransformerModel.v1"):
        raise UserError(
            "The transformer component is not available in this installation",
            hint="Reinstall spacy-transfer (pip install -e .) so its entry points are registered, or leave out --gpu/--transformer.",
        )
    base = Config().from_str(build_config_text(req), interpolate=False)
    filled = fill_config(base, pretraining=pretraining, where="generated config")
    if pretraining and req.use_transformer:
        filled["pretraining"]["component"] = "transformer"
    return filled.to_str()
