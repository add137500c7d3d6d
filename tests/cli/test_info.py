"""`spacy-transfer info`: versions, device and our registered names, grouped by registry."""

import json

from ..conftest import run_cli


def test_json_lists_versions_device_and_registries():
    result = run_cli("info", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"spacy", "thinc", "torch", "transformers"} <= set(data["versions"])
    assert "torch CUDA available" in data["device"]
    regs = data["registries"]
    assert "transformer" in regs["factories"]
    assert "spacy-transfer.TransformerModel.v1" in regs["architectures"]
    assert "spacy-transformers.TransformerListener.v1" in regs["architectures"]
    assert "spacy.Tok2VecListener.v1" in regs["architectures"]
    assert "reduce_mean.v1" in regs["layers"]
    assert "spacy-transfer.strided_spans.v1" in regs["span_getters"]
    assert "spacy-transfer.null_annotation_setter.v1" in regs["annotation_setters"]
    # Parameter-efficient fine-tuning and layer control (issue 34).
    assert "spacy-transfer.LoRA.v1" in regs["adapters"]
    assert "spacy-transfer.AllLayersListener.v1" in regs["architectures"]
    assert "spacy-transfer.RawTextCorpus.v1" in regs["readers"]


def test_table_output():
    result = run_cli("info")
    assert result.exit_code == 0
    assert "@span_getters" in result.stdout and "Versions" in result.stdout
