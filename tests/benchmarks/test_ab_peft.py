"""The A/B runner of source trees reads each side as LABEL=TREE:ROW[@ALLOCATOR] and refuses
anything else with a message that says what it expects."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import ab_peft

ROOT = Path(__file__).resolve().parents[2]


def test_a_side_names_a_label_a_tree_and_a_row():
    label, src, row, alloc = ab_peft.parse_side(f"LoRA r=8 after={ROOT}:lora-r-8")
    assert (label, src, row, alloc) == ("LoRA r=8 after", ROOT / "src", "lora-r-8", None)


def test_a_side_may_name_its_allocator():
    side = ab_peft.parse_side(f"full glibc={ROOT}:full-fine-tuning@system")
    assert side == ("full glibc", ROOT / "src", "full-fine-tuning", "system")


@pytest.mark.parametrize(
    "text",
    ["after", f"={ROOT}:lora-r-8", f"after={ROOT}:", "after=/nowhere:lora-r-8", f"after={ROOT}:lora-r-8@"],
)
def test_a_malformed_side_stops_with_what_is_expected(text):
    with pytest.raises(SystemExit, match="expected LABEL=TREE:ROW"):
        ab_peft.parse_side(text)
