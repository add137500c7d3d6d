import pytest

from spacy_transfer.core.config import parse_overrides
from spacy_transfer.core.config.overrides import parse_override_args
from spacy_transfer.errors import UserError


def test_values_are_json_else_strings():
    got = parse_override_args(
        ["--training.max_steps", "10", "--paths.train", "corpus/train.spacy", "--nlp.pipeline", '["ner"]']
    )
    assert got == {"training.max_steps": 10, "paths.train": "corpus/train.spacy", "nlp.pipeline": ["ner"]}


def test_equals_form_and_bare_flag():
    got = parse_override_args(["--training.dropout=0.2", "--x.flag", "--y.z", "null"])
    assert got == {"training.dropout": 0.2, "x.flag": True, "y.z": None}


def test_environment_overrides_win(monkeypatch):
    monkeypatch.setenv("SPACY_CONFIG_OVERRIDES", "--training.seed 7 --paths.dev 'my dev.spacy'")
    got = parse_overrides(["--training.seed", "3", "--training.max_steps", "5"])
    assert got == {"training.seed": 7, "training.max_steps": 5, "paths.dev": "my dev.spacy"}


@pytest.mark.parametrize("args", [["--training"], ["training.seed", "1"], ["--.seed", "1"]])
def test_malformed_overrides_are_user_errors(args):
    with pytest.raises(UserError) as e:
        parse_override_args(args)
    assert e.value.hint
