"""The sections of a starter config, one small builder per embedding, component and
training setup; raw INI values, written exactly as they will appear."""

from __future__ import annotations

from typing import Dict, List

from ...errors import UserError
from ...registry import TRANSFORMER_FACTORY
from .request import Blocks, ConfigRequest, Section, q


def _cnn_sizes(req: ConfigRequest) -> Dict[str, object]:
    if req.optimize == "accuracy":
        return {"width": 256, "depth": 8, "rows": [5000, 1000, 2500, 2500]}
    return {"width": 96, "depth": 4, "rows": [5000, 1000, 2500, 2500]}


def cnn_tok2vec(prefix: str, req: ConfigRequest) -> Blocks:
    """A full ``spacy.Tok2Vec.v2`` block (embed + encode) at ``prefix``."""
    s = _cnn_sizes(req)
    return {
        prefix: {"@architectures": q("spacy.Tok2Vec.v2")},
        f"{prefix}.embed": {
            "@architectures": q("spacy.MultiHashEmbed.v2"),
            "width": f"${{{prefix}.encode.width}}",
            "attrs": q(["NORM", "PREFIX", "SUFFIX", "SHAPE"]),
            "rows": q(s["rows"]),
            "include_static_vectors": q(req.vectors is not None),
        },
        f"{prefix}.encode": {
            "@architectures": q("spacy.MaxoutWindowEncoder.v2"),
            "width": q(s["width"]),
            "depth": q(s["depth"]),
            "window_size": q(1),
            "maxout_pieces": q(3),
        },
    }


def transformer_tok2vec(prefix: str, req: ConfigRequest) -> Blocks:
    """An independent transformer embedding (its own encoder) at ``prefix``."""
    return {
        prefix: {
            "@architectures": q("spacy-transfer.Tok2VecTransformer.v1"),
            "name": q(req.transformer_name),
            "grad_factor": q(1.0),
            "tokenizer_config": q({"use_fast": True}),
            "mixed_precision": q(req.gpu),
            "freeze_layers": q(req.freeze_layers),
        },
        f"{prefix}.get_spans": {
            "@span_getters": q("spacy-transfer.strided_spans.v1"),
            "window": q(128),
            "stride": q(96),
        },
        f"{prefix}.pooling": {"@layers": q("reduce_mean.v1")},
        **adapter_block(prefix, req),
    }


def adapter_block(model_prefix: str, req: ConfigRequest) -> Blocks:
    """``[MODEL.adapter]`` for ``--adapter lora`` (nothing otherwise)."""
    if req.adapter != "lora":
        return {}
    return {
        f"{model_prefix}.adapter": {
            "@adapters": q("spacy-transfer.LoRA.v1"),
            "r": q(8),
            "alpha": q(8.0),
            "dropout": q(0.0),
            "target_modules": q(None),
            "merge_adapters": q(True),
            "learn_rate_scale": q(1.0),
        }
    }


def listener(prefix: str, req: ConfigRequest) -> Blocks:
    if req.use_transformer:
        return {
            prefix: {
                "@architectures": q("spacy-transfer.TransformerListener.v1"),
                "grad_factor": q(1.0),
                "upstream": q("*"),
            },
            f"{prefix}.pooling": {"@layers": q("reduce_mean.v1")},
        }
    return {
        prefix: {
            "@architectures": q("spacy.Tok2VecListener.v1"),
            "width": "${components.tok2vec.model.encode.width}",
            "upstream": q("*"),
        }
    }


def embedding_for(prefix: str, req: ConfigRequest) -> Blocks:
    if req.embedding == "shared":
        return listener(prefix, req)
    return transformer_tok2vec(prefix, req) if req.use_transformer else cnn_tok2vec(prefix, req)


def shared_component(req: ConfigRequest) -> Blocks:
    if req.use_transformer:
        return {
            "components.transformer": {
                "factory": q(TRANSFORMER_FACTORY),
                "max_batch_items": q(4096),
                # The encoder's own sentence embedding, as sentence-transformers computes it.
                **(
                    {"doc_vectors": q(True), "vector_pooling": q("mean"), "normalize_vectors": q(True)}
                    if req.doc_vectors
                    else {}
                ),
            },
            "components.transformer.model": {
                "@architectures": q("spacy-transfer.TransformerModel.v1"),
                "name": q(req.transformer_name),
                "tokenizer_config": q({"use_fast": True}),
                "mixed_precision": q(req.gpu),
                "freeze_layers": q(req.freeze_layers),
            },
            "components.transformer.model.get_spans": {
                "@span_getters": q("spacy-transfer.strided_spans.v1"),
                "window": q(128),
                "stride": q(96),
            },
            "components.transformer.set_extra_annotations": {
                "@annotation_setters": q("spacy-transfer.null_annotation_setter.v1")
            },
            **adapter_block("components.transformer.model", req),
        }
    blocks = {"components.tok2vec": {"factory": q("tok2vec")}}
    blocks.update(cnn_tok2vec("components.tok2vec.model", req))
    return blocks


# ---------------------------------------------------------------------------- components


def component_blocks(name: str, req: ConfigRequest) -> Blocks:
    c = f"components.{name}"
    if name in ("tagger", "senter", "morphologizer", "trainable_lemmatizer"):
        blocks = _tagger_blocks(name, c)
    elif name in ("parser", "ner"):
        blocks = _parser_blocks(name, c, use_upper=not req.use_transformer)
    elif name in ("spancat", "spancat_singlelabel"):
        blocks = _spancat_blocks(name, c)
    elif name == "span_finder":
        blocks = _span_finder_blocks(c)
    elif name in ("textcat", "textcat_multilabel"):
        if req.optimize == "efficiency" and not req.use_transformer:
            # Bag-of-words: the fast baseline, it needs no tok2vec.
            return {c: {"factory": q(name)}, f"{c}.model": {**_bow(name), "nO": "null"}}
        blocks = {
            c: {"factory": q(name)},
            f"{c}.model": {"@architectures": q("spacy.TextCatEnsemble.v2"), "nO": "null"},
            f"{c}.model.linear_model": _bow(name),
        }
    else:  # pragma: no cover - validate_request guards this
        raise UserError(f"Unknown component '{name}'")
    blocks.update(embedding_for(f"{c}.model.tok2vec", req))
    return blocks


def _tagger_blocks(name: str, c: str) -> Blocks:
    head: Section = {"factory": q(name)}
    if name == "trainable_lemmatizer":
        head.update(backoff=q("orth"), min_tree_freq=q(3), overwrite=q(False), top_k=q(1))
    return {
        c: head,
        f"{c}.model": {"@architectures": q("spacy.Tagger.v2"), "nO": "null", "normalize": q(False)},
    }


def _parser_blocks(name: str, c: str, use_upper: bool) -> Blocks:
    parser = name == "parser"
    return {
        c: {"factory": q(name)},
        f"{c}.model": {
            "@architectures": q("spacy.TransitionBasedParser.v2"),
            "state_type": q(name),
            "extra_state_tokens": q(False),
            "hidden_width": q(128 if parser else 64),
            "maxout_pieces": q(3 if parser else 2),
            "use_upper": q(use_upper),
            "nO": "null",
        },
    }


def _spancat_blocks(name: str, c: str) -> Blocks:
    """spancat (independent labels, logistic) or spancat_singlelabel (one label per span, softmax)."""
    if name == "spancat":
        head: Section = {
            "factory": q(name),
            "max_positive": "null",
            "spans_key": q("sc"),
            "threshold": q(0.5),
        }
        scorer: Section = {"@layers": q("spacy.LinearLogistic.v1"), "nO": "null", "nI": "null"}
    else:
        head = {"factory": q(name), "negative_weight": q(1.0), "allow_overlap": q(True), "spans_key": q("sc")}
        scorer = {"@layers": q("Softmax.v2")}
    return {
        c: head,
        f"{c}.model": {"@architectures": q("spacy.SpanCategorizer.v1")},
        f"{c}.model.reducer": {"@layers": q("spacy.mean_max_reducer.v1"), "hidden_size": q(128)},
        f"{c}.model.scorer": scorer,
        f"{c}.suggester": {"@misc": q("spacy.ngram_suggester.v1"), "sizes": q([1, 2, 3])},
    }


def _span_finder_blocks(c: str) -> Blocks:
    """Span boundaries (start/end per token) written to doc.spans["sc"], as spaCy's quickstart."""
    return {
        c: {
            "factory": q("span_finder"),
            "max_length": q(25),
            "min_length": "null",
            "spans_key": q("sc"),
            "threshold": q(0.5),
        },
        f"{c}.model": {"@architectures": q("spacy.SpanFinder.v1")},
        f"{c}.model.scorer": {"@layers": q("spacy.LinearLogistic.v1"), "nO": q(2)},
    }


def _bow(name: str) -> Section:
    """The bag-of-words text classifier: alone (efficiency, CNN) or inside the ensemble."""
    return {
        "@architectures": q("spacy.TextCatBOW.v3"),
        "exclusive_classes": q(name == "textcat"),
        "length": q(262144),
        "ngram_size": q(1),
        "no_output_layer": q(False),
    }


def needs_shared_layer(req: ConfigRequest) -> bool:
    if req.embedding != "shared":
        return False
    no_tok2vec = (
        {"textcat", "textcat_multilabel"}
        if (req.optimize == "efficiency" and not req.use_transformer)
        else set()
    )
    return req.doc_vectors or any(p not in no_tok2vec for p in req.pipeline)


# ---------------------------------------------------------------------------- training


def training_blocks(req: ConfigRequest, pipeline: List[str]) -> Blocks:
    trf = req.use_transformer
    blocks: Blocks = {
        "paths": {
            "train": "null",
            "dev": "null",
            "vectors": q(req.vectors) if req.vectors else "null",
            "init_tok2vec": "null",
        },
        "system": {"gpu_allocator": q("pytorch") if req.gpu else "null", "seed": q(0)},
        "nlp": {"lang": q(req.lang), "pipeline": q(pipeline), "batch_size": q(128 if trf else 1000)},
        "components": {},
        "corpora": {},
        "corpora.train": {"@readers": q("spacy.Corpus.v1"), "path": "${paths.train}", "max_length": q(0)},
        "corpora.dev": {"@readers": q("spacy.Corpus.v1"), "path": "${paths.dev}", "max_length": q(0)},
        "training": {
            "dev_corpus": q("corpora.dev"),
            "train_corpus": q("corpora.train"),
            "seed": "${system.seed}",
            "gpu_allocator": "${system.gpu_allocator}",
            "dropout": q(0.1),
            "accumulate_gradient": q(3 if trf else 1),
            "patience": q(1600),
            "max_epochs": q(0),
            "max_steps": q(20000),
            "eval_frequency": q(200),
        },
        "training.optimizer": {
            "@optimizers": q("Adam.v1"),
            "beta1": q(0.9),
            "beta2": q(0.999),
            "L2_is_weight_decay": q(True),
            "L2": q(0.01),
            "grad_clip": q(1.0),
            "use_averages": q(False),
            "eps": q(1e-8),
        },
        "initialize": {"vectors": "${paths.vectors}", "init_tok2vec": "${paths.init_tok2vec}"},
    }
    blocks.update(_transformer_schedule(req) if trf else _cnn_schedule())
    if not trf:
        blocks["training.optimizer"]["learn_rate"] = q(0.001)
    return blocks


# LoRA trains best with the whole optimizer (heads too) at about 5x full fine-tuning's rate:
# bench_peft (MiniLM, 500 steps) LoRA r=8, alpha = r, at 1e-3 against full fine-tuning at 2e-4
# gave tag_acc 92.2 vs 90.9, LAS 75.0 vs 75.8, NER F 54.1 vs 55.0, where only the adapters at
# a higher rate gave 73.7 / 62.8 / 23.9 (the heads learn slowly on an encoder that moves
# slowly); 2e-3 collapsed.
LORA_RATE_FACTOR = 5.0
TRANSFORMER_RATE = 5e-5


def _transformer_schedule(req: ConfigRequest) -> Blocks:
    """Warm-up then linear decay, batches by padded size: what transformers train best with."""
    rate = TRANSFORMER_RATE * (LORA_RATE_FACTOR if req.adapter == "lora" else 1.0)
    return {
        "training.optimizer.learn_rate": {
            "@schedules": q("warmup_linear.v1"),
            "warmup_steps": q(250),
            "total_steps": q(20000),
            "initial_rate": q(rate),
        },
        "training.batcher": {
            "@batchers": q("spacy.batch_by_padded.v1"),
            "discard_oversize": q(True),
            "size": q(2000),
            "buffer": q(256),
        },
    }


def _cnn_schedule() -> Blocks:
    """A fixed rate and batches by words that grow from 100 to 1000 (spaCy's CNN defaults)."""
    return {
        "training.batcher": {
            "@batchers": q("spacy.batch_by_words.v1"),
            "discard_oversize": q(False),
            "tolerance": q(0.2),
        },
        "training.batcher.size": {
            "@schedules": q("compounding.v1"),
            "start": q(100),
            "stop": q(1000),
            "compound": q(1.001),
        },
    }
