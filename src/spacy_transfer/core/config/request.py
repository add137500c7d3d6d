"""What ``init config`` is asked for (:class:`ConfigRequest`), checked, and the INI value
helpers the config blocks are written with."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ...errors import UserError

Section = Dict[str, str]  # key -> raw INI value
Blocks = Dict[str, Section]  # section path -> settings

PIPES = (
    "tagger",
    "morphologizer",
    "trainable_lemmatizer",
    "parser",
    "ner",
    "span_finder",
    "spancat",
    "spancat_singlelabel",
    "textcat",
    "textcat_multilabel",
    "senter",
)
OPTIMIZE = ("efficiency", "accuracy")
EMBEDDING = ("shared", "independent")

# Transformer suggestions per language when --gpu is given without --transformer.
DEFAULT_TRANSFORMERS = {
    "en": "roberta-base",
    "de": "bert-base-german-cased",
    "fr": "camembert-base",
    "es": "dccuchile/bert-base-spanish-wwm-cased",
    "nl": "GroNLP/bert-base-dutch-cased",
    "zh": "bert-base-chinese",
    "ja": "cl-tohoku/bert-base-japanese-char-v2",
}
MULTILINGUAL_TRANSFORMER = "xlm-roberta-base"
ADAPTERS = ("lora",)  # --adapter values
# --doc-vectors without --transformer: encoders trained for sentence embeddings (mean pooling).
EMBEDDING_TRANSFORMERS = {"en": "sentence-transformers/all-MiniLM-L6-v2"}
MULTILINGUAL_EMBEDDING_TRANSFORMER = "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"


@dataclass
class ConfigRequest:
    lang: str = "en"
    pipeline: List[str] = field(default_factory=lambda: ["tagger", "parser", "ner"])
    optimize: str = "efficiency"
    gpu: bool = False
    transformer: Optional[str] = None
    vectors: Optional[str] = None
    embedding: str = "shared"
    # Contextual doc/span/token vectors from the shared transformer (``--doc-vectors``).
    doc_vectors: bool = False
    # The transformer's embeddings and bottom N layers keep their weights (``--freeze-layers``).
    freeze_layers: int = 0
    # Parameter-efficient fine-tuning (``--adapter``): "lora" or None.
    adapter: Optional[str] = None

    @property
    def use_transformer(self) -> bool:
        return self.gpu or self.transformer is not None or self.doc_vectors

    @property
    def transformer_name(self) -> str:
        if self.transformer:
            return self.transformer
        if self.doc_vectors and not self.pipeline:
            return EMBEDDING_TRANSFORMERS.get(self.lang, MULTILINGUAL_EMBEDDING_TRANSFORMER)
        return DEFAULT_TRANSFORMERS.get(self.lang, MULTILINGUAL_TRANSFORMER)


def q(value: object) -> str:
    """A value as it is written in the INI file (JSON)."""
    return json.dumps(value)


def validate_request(req: ConfigRequest) -> None:
    from ..validation import check_language

    check_language(req.lang, "--lang")
    bad = [p for p in req.pipeline if p not in PIPES]
    if bad or not (req.pipeline or req.doc_vectors):
        raise UserError(
            f"Unknown component(s) in --pipeline: {', '.join(bad) or '(empty)'}",
            hint=f"Choose from: {', '.join(PIPES)} (comma-separated, e.g. --pipeline tagger,parser,ner).",
        )
    if len(set(req.pipeline)) != len(req.pipeline):
        raise UserError("A component is listed twice in --pipeline", hint="List each component once.")
    if req.optimize not in OPTIMIZE:
        raise UserError(f"Unknown --optimize value '{req.optimize}'", hint="Use 'efficiency' or 'accuracy'.")
    if req.embedding not in EMBEDDING:
        raise UserError(f"Unknown --embedding value '{req.embedding}'", hint="Use 'shared' or 'independent'.")
    if req.freeze_layers < 0 or (req.freeze_layers and not req.use_transformer):
        raise UserError(
            f"--freeze-layers {req.freeze_layers} needs a transformer and a number of layers >= 0",
            hint="Add --transformer NAME (or --gpu), and give how many bottom layers to keep, e.g. --freeze-layers 3.",
        )
    if req.adapter is not None and (req.adapter not in ADAPTERS or not req.use_transformer):
        raise UserError(
            f"--adapter {req.adapter} needs a transformer, and one of: {', '.join(ADAPTERS)}",
            hint="Add --transformer NAME (or --gpu) and use --adapter lora.",
        )
    if req.doc_vectors and req.embedding != "shared":
        raise UserError(
            "--doc-vectors needs the shared transformer component, but --embedding independent gives each "
            "component its own encoder",
            hint="Leave out --embedding independent (or --doc-vectors).",
        )
    examples = {
        "--transformer": "--transformer bert-base-cased (or a local folder); --gpu alone picks the language's default",
        "--vectors": "--vectors ./vectors (a folder made by spacy-transfer init vectors)",
    }
    for option, value in (("--transformer", req.transformer), ("--vectors", req.vectors)):
        if value is not None and (not value.strip() or value.startswith("-")):
            # "--transformer --force" would otherwise name a model "--force".
            raise UserError(
                f"{option} needs a name or folder, got '{value}'", hint=f"Write {examples[option]}."
            )
