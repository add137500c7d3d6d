"""The inference A/B runner reads each side as LABEL=TREE, optionally with settings after
'|', and refuses anything else with a message that says what it expects."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import ab_transformer

ROOT = Path(__file__).resolve().parents[2]


def test_a_side_names_a_label_and_a_tree():
    assert ab_transformer.parse_side(f"after={ROOT}") == ("after", ROOT / "src", {})


def test_a_side_may_carry_settings():
    label, src, env = ab_transformer.parse_side(f"ov16={ROOT}|SPACY_TRANSFER_PASS_OVERHEAD=16,A=b=c")
    assert (label, src, env) == ("ov16", ROOT / "src", {"SPACY_TRANSFER_PASS_OVERHEAD": "16", "A": "b=c"})


@pytest.mark.parametrize("text", ["after", f"={ROOT}", "after=/nowhere", f"after={ROOT}|NOVALUE"])
def test_a_malformed_side_stops_with_what_is_expected(text):
    with pytest.raises(SystemExit, match="expected LABEL=TREE"):
        ab_transformer.parse_side(text)
