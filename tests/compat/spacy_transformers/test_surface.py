"""Code written for spacy-transformers 1.4 imports and runs unchanged: every module it
imports from, its documented ``trf_data`` layout, its defaults for the old names."""

from __future__ import annotations

import importlib

import numpy
import pytest
import spacy
import torch
from spacy.tokens import Doc
from thinc.api import NumpyOps
from thinc.types import Ragged

import spacy_transformers
from spacy_transformers.data_classes import FullTransformerBatch, TransformerData, WordpieceBatch
from tests.core.transformer.conftest import (
    CORPUS,  # noqa: F401  (tiny_model fixture lives there)
    tiny_model,  # noqa: F401
)

SURFACE = {
    "spacy_transformers": [
        "Transformer",
        "TransformerModel",
        "TransformerData",
        "FullTransformerBatch",
        "registry",
        "install_extensions",
    ],
    "spacy_transformers.util": [
        "registry",
        "huggingface_from_pretrained",
        "huggingface_tokenize",
        "maybe_flush_pytorch_cache",
        "transpose_list",
        "batch_by_length",
    ],
    "spacy_transformers.layers": [
        "TransformerModel",
        "TransformerListener",
        "split_trf_batch",
        "trfs2arrays",
    ],
    "spacy_transformers.layers.transformer_model": [
        "TransformerModel",
        "HFObjects",
        "huggingface_from_pretrained",
        "huggingface_tokenize",
        "set_pytorch_transformer",
        "set_logger",
    ],
    "spacy_transformers.layers.listener": ["TransformerListener"],
    "spacy_transformers.layers.split_trf": ["split_trf_batch"],
    "spacy_transformers.layers.trfs2arrays": ["trfs2arrays"],
    "spacy_transformers.layers.hf_shim": ["HFShim", "HFObjects"],
    "spacy_transformers.layers._util": ["replace_listener", "replace_listener_cfg"],
    "spacy_transformers.pipeline_component": [
        "Transformer",
        "DOC_EXT_ATTR",
        "install_extensions",
        "make_transformer",
        "DEFAULT_CONFIG",
        "DEFAULT_CONFIG_STR",
    ],
    "spacy_transformers.data_classes": [
        "TransformerData",
        "FullTransformerBatch",
        "WordpieceBatch",
        "HFObjects",
        "serialize_transformer_data",
        "deserialize_transformer_data",
    ],
    "spacy_transformers.span_getters": [
        "get_doc_spans",
        "get_sent_spans",
        "get_strided_spans",
        "configure_strided_spans",
    ],
    "spacy_transformers.annotation_setters": ["null_annotation_setter"],
    "spacy_transformers.align": [
        "apply_alignment",
        "get_alignment",
        "get_alignment_via_offset_mapping",
        "get_span2wp_from_offset_mapping",
        "get_token_positions",
    ],
    "spacy_transformers.truncate": ["truncate_oversize_splits"],
    "spacy_transformers.architectures": [
        "transformer_listener_tok2vec_v1",
        "transformer_tok2vec_v3",
        "create_TransformerModel_v3",
    ],
}


@pytest.mark.parametrize("module", sorted(SURFACE))
def test_every_module_users_import_resolves(module):
    mod = importlib.import_module(module)
    for name in SURFACE[module]:
        assert hasattr(mod, name), f"{module}.{name}"


def test_registry_from_util_registers_span_getters_as_code_files_do():
    from spacy_transformers.util import registry

    @registry.span_getters("test_custom_sent_spans.v1")
    def configure():
        return lambda docs: [list(doc.sents) for doc in docs]

    assert spacy.util.registry.span_getters.get("test_custom_sent_spans.v1") is configure
    assert spacy_transformers.pipeline_component.DOC_EXT_ATTR == "trf_data"


@pytest.mark.parametrize("via", ["add_pipe", "fill"])
def test_v3_with_only_a_name_fills_spacy_transformers_defaults(via):
    block = {"@architectures": "spacy-transformers.TransformerModel.v3", "name": "bert-base-cased"}
    nlp = spacy.blank("en")
    if via == "add_pipe":
        nlp.add_pipe("transformer", config={"model": block})  # no weights are loaded
        model_cfg = nlp.config["components"]["transformer"]["model"]
    else:
        from thinc.api import Config

        cfg = Config(
            {
                "nlp": {"lang": "en", "pipeline": ["transformer"]},
                "components": {"transformer": {"factory": "transformer", "model": block}},
            }
        )
        model_cfg = spacy.util.load_model_from_config(cfg, auto_fill=True).config["components"][
            "transformer"
        ]["model"]
    assert model_cfg["get_spans"] == {
        "@span_getters": "spacy-transformers.strided_spans.v1",
        "window": 128,
        "stride": 96,
    }
    assert model_cfg["tokenizer_config"] == {"use_fast": True}
    assert (
        model_cfg["transformer_config"] == {}
        and model_cfg["mixed_precision"] is False
        and model_cfg["grad_scaler_config"] == {}
    )


def _pipeline(path, **model):
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "transformer",
        config={
            "model": {"@architectures": "spacy-transformers.TransformerModel.v3", "name": str(path), **model}
        },
    )
    nlp.initialize()
    return nlp


def test_trf_data_has_the_spacy_transformers_layout(tiny_model):
    nlp = _pipeline(
        tiny_model("bert"),
        get_spans={"@span_getters": "spacy-transformers.strided_spans.v1", "window": 8, "stride": 6},
    )
    doc = nlp(CORPUS[0] + " " + CORPUS[1])
    data = doc._.trf_data
    assert isinstance(data, TransformerData) and isinstance(data.wordpieces, WordpieceBatch)
    last, pooler = data.tensors  # BERT has a pooler: tensors[-1] is its output
    n_spans, length, width = last.shape
    assert n_spans == len(data.wordpieces) > 1 and width == data.width == 32
    assert pooler.shape == (n_spans, 32)
    assert data.model_output.last_hidden_state is last and data.model_output["pooler_output"] is pooler
    assert data.wordpieces.input_ids.shape == data.wordpieces.attention_mask.shape == (n_spans, length)
    # token_type_ids where the tokenizer makes them, as spacy-transformers passes them on.
    from spacy_transfer.core.transformer import get_tokenizer

    has_types = "token_type_ids" in get_tokenizer(nlp.get_pipe("transformer")).model_input_names
    assert (data.wordpieces.token_type_ids is not None) == has_types
    assert [int(m.sum()) for m in data.wordpieces.attention_mask] == data.wordpieces.lengths
    assert all(len(s) == length for s in data.wordpieces.strings)
    # align indexes the flattened tensors[0]; every row it points to is a real wordpiece.
    flat_mask = data.wordpieces.attention_mask.reshape(-1)
    assert data.align.lengths.shape == (len(doc),) and (flat_mask[data.align.dataXd] == 1).all()
    # The rows of a token equal a plain HF forward pass of its span.
    from spacy_transfer.core.transformer import get_hf_model

    hf = get_hf_model(nlp.get_pipe("transformer")).eval()
    with torch.inference_mode():
        ids = torch.from_numpy(data.wordpieces.input_ids[:1, : data.wordpieces.lengths[0]].astype("int64"))
        ref = hf(input_ids=ids).last_hidden_state[0].numpy()
    numpy.testing.assert_allclose(last[0, : data.wordpieces.lengths[0]], ref, atol=1e-5)


def test_full_batch_fields_split_and_unsplit_as_in_spacy_transformers(tiny_model):
    nlp = _pipeline(tiny_model("roberta"))
    trf = nlp.get_pipe("transformer")
    docs = [nlp.make_doc(t) for t in CORPUS[:5]]
    batch = trf.predict(docs)
    assert isinstance(batch, FullTransformerBatch)
    lhs = batch.model_output.last_hidden_state
    assert isinstance(lhs, torch.Tensor) and lhs.shape[0] == len(batch.wordpieces) == 5  # one span per doc
    assert batch.tensors[0].shape == lhs.shape and batch.align.lengths.shape[0] == sum(len(d) for d in docs)
    # Splitting the batch-level fields gives back each Doc's data.
    rebuilt = FullTransformerBatch(
        spans=batch.spans, wordpieces=batch.wordpieces, model_output=batch.model_output, align=batch.align
    )
    for mine, split in zip(batch.doc_data, rebuilt.doc_data):
        rows = mine.tensors[0].reshape(-1, mine.width)[mine.align.dataXd]
        split_rows = split.tensors[0].reshape(-1, split.width)[split.align.dataXd]
        numpy.testing.assert_allclose(rows, split_rows)
        assert split.align.lengths.tolist() == mine.align.lengths.tolist()
    grads = batch.unsplit_by_doc([[numpy.ones_like(d.tensors[0])] for d in batch.doc_data])
    assert grads.model_output["output_0"].shape == lhs.shape


def test_zeros_and_empty():
    data = TransformerData.zeros(4, 8)
    assert data.tensors[0].shape == (1, 4, 8) and data.width == 8 and data.align.lengths.tolist() == [1] * 4
    empty = FullTransformerBatch.empty(3)
    assert len(empty.doc_data) == 3 and empty.tensors == ()
    assert len(WordpieceBatch.empty()) == 0


def test_trf_data_survives_docbin_and_doc_bytes(tiny_model):
    nlp = _pipeline(tiny_model("bert"))
    doc = nlp("Hello world, this is a small test.")
    again = Doc(nlp.vocab).from_bytes(doc.to_bytes())
    numpy.testing.assert_allclose(again._.trf_data.tensors[0], doc._.trf_data.tensors[0])
    assert again._.trf_data.align.lengths.tolist() == doc._.trf_data.align.lengths.tolist()


def test_align_helpers_match_the_components_alignment(tiny_model):
    from spacy_transfer.core.transformer import get_tokenizer
    from spacy_transformers.align import apply_alignment, get_alignment_via_offset_mapping
    from spacy_transformers.util import huggingface_tokenize

    nlp = _pipeline(tiny_model("bert"), get_spans={"@span_getters": "spacy-transformers.doc_spans.v1"})
    docs = [
        nlp(t) for t in CORPUS[:3] + ["Tabs\tand  double  spaces, emoji 🙂 and café."]
    ]  # whitespace tokens too
    spans = [doc[:] for doc in docs]
    tokens = huggingface_tokenize(get_tokenizer(nlp.get_pipe("transformer")), [s.text for s in spans])
    assert tokens["input_texts"][0][0] == "[CLS]"
    align = get_alignment_via_offset_mapping(spans, tokens["offset_mapping"])
    width = tokens["input_ids"].shape[1]
    start = 0
    for i, doc in enumerate(docs):
        mine = doc._.trf_data.align
        part = align[start : start + len(doc)]
        assert (part.dataXd - i * width).tolist() == mine.dataXd.tolist()
        start += len(doc)
    X = numpy.arange(12, dtype="f").reshape(6, 2)
    Y, backprop = apply_alignment(
        NumpyOps(), Ragged(numpy.asarray([0, 2, 2], dtype="i"), numpy.asarray([1, 2], dtype="i")), X
    )
    assert Y.dataXd.tolist() == [[0, 1], [4, 5], [4, 5]]
    assert backprop(Ragged(numpy.ones((3, 2), dtype="f"), Y.lengths))[2].tolist() == [2, 2]


def test_init_fill_config_fills_the_old_names_defaults(tmp_path):
    import subprocess
    import sys

    partial = tmp_path / "partial.cfg"
    partial.write_text(
        '[nlp]\nlang = "en"\npipeline = ["transformer"]\n\n[components]\n\n[components.transformer]\nfactory = "transformer"\n\n'
        '[components.transformer.model]\n@architectures = "spacy-transformers.TransformerModel.v3"\nname = "roberta-base"\n'
    )
    out = tmp_path / "full.cfg"
    proc = subprocess.run(
        [sys.executable, "-m", "spacy_transfer", "init", "fill-config", str(partial), str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    filled = spacy.util.load_config(out)["components"]["transformer"]
    assert filled["model"]["get_spans"] == {
        "@span_getters": "spacy-transformers.strided_spans.v1",
        "window": 128,
        "stride": 96,
    }
    assert filled["model"]["tokenizer_config"] == {"use_fast": True}
    assert filled["set_extra_annotations"] == {
        "@annotation_setters": "spacy-transformers.null_annotation_setter.v1"
    }
    assert filled["max_batch_items"] == 4096


def test_the_documentations_add_pipe_snippets_fill_as_in_spacy_transformers():
    import json
    from pathlib import Path

    from scripts.make_st_fixtures import DOC_SNIPPET_CONFIGS  # the snippets, run unchanged

    theirs = json.loads(
        (Path(__file__).resolve().parents[2] / "fixtures" / "st14" / "doc_snippets.json").read_text()
    )
    for name, config in DOC_SNIPPET_CONFIGS.items():
        nlp = spacy.blank("en")
        nlp.add_pipe("transformer", config=config) if config else nlp.add_pipe("transformer")
        ours = dict(nlp.config["components"]["transformer"])
        ours_only = {
            "frozen": False,
            "quantize": None,
            "doc_vectors": False,
            "vector_pooling": "mean",
            "normalize_vectors": False,
        }
        extra = {k: ours.pop(k) for k in ours_only}  # our additions, at their defaults
        assert extra == ours_only
        assert json.loads(json.dumps(ours, sort_keys=True)) == theirs[name], name
