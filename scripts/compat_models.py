"""Stand-ins for the Hugging Face hub models that spacy-transformers' own tests name: small
random-init models of the same architecture, with fast tokenizers of the same kind trained
on a few sentences, saved as local folders under the hub names (``roberta-base/``,
``hf-internal-testing/tiny-random-gpt2/``...). Run with such a folder as the working
directory, ``from_pretrained("roberta-base")`` opens the stand-in; nothing is downloaded.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Dict

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.core.transformer.tiny import CORPUS, make_tiny_model_dir  # noqa: E402

MAX_LEN = 512  # the hub models these stand in for take 512 positions


def _save_tokenizer(tok, out: Path, **specials) -> None:
    from transformers import PreTrainedTokenizerFast

    PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=MAX_LEN, **specials).save_pretrained(out)


def _gpt2(out: Path) -> None:
    """A decoder with byte-level BPE and no special tokens around its input, as GPT-2."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2Model

    eos = "<|endoftext|>"
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=[eos], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS, trainer)
    torch.manual_seed(0)
    eos_id = tok.token_to_id(eos)
    config = GPT2Config(
        vocab_size=tok.get_vocab_size(), n_positions=MAX_LEN, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=eos_id, eos_token_id=eos_id,
    )  # fmt: skip
    GPT2Model(config).save_pretrained(out)
    _save_tokenizer(tok, out, bos_token=eos, eos_token=eos, unk_token=eos)


def _xlnet(out: Path) -> None:
    """SentencePiece-style unigram pieces with ``<sep> <cls>`` at the end and left padding, as XLNet."""
    import torch
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast, XLNetConfig, XLNetModel

    specials = ["<unk>", "<s>", "</s>", "<cls>", "<sep>", "<pad>", "<mask>"]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.train_from_iterator(
        CORPUS, trainers.UnigramTrainer(vocab_size=400, special_tokens=specials, unk_token="<unk>")
    )
    sep, cls = tok.token_to_id("<sep>"), tok.token_to_id("<cls>")
    tok.post_processor = processors.TemplateProcessing(
        single="$A <sep> <cls>",
        pair="$A <sep> $B <sep> <cls>",
        special_tokens=[("<sep>", sep), ("<cls>", cls)],
    )
    torch.manual_seed(0)
    config = XLNetConfig(
        vocab_size=tok.get_vocab_size(), d_model=32, n_layer=2, n_head=2, d_inner=64,
        pad_token_id=tok.token_to_id("<pad>"), bos_token_id=tok.token_to_id("<s>"), eos_token_id=tok.token_to_id("</s>"),
    )  # fmt: skip
    XLNetModel(config).save_pretrained(out)
    PreTrainedTokenizerFast(
        tokenizer_object=tok, model_max_length=MAX_LEN, padding_side="left",
        unk_token="<unk>", bos_token="<s>", eos_token="</s>", cls_token="<cls>", sep_token="<sep>",
        pad_token="<pad>", mask_token="<mask>",
    ).save_pretrained(out)  # fmt: skip


def _encoder(arch: str) -> Callable[[Path], None]:
    """One of the test suite's own tiny encoders (tests/core/transformer/tiny.py), moved into place."""

    def build(out: Path) -> None:
        import shutil

        made = make_tiny_model_dir(out.parent / f".build-{out.name}", arch, max_len=MAX_LEN)
        shutil.move(str(made), str(out))
        shutil.rmtree(out.parent / f".build-{out.name}", ignore_errors=True)

    return build


def _classifier(out: Path) -> None:
    """A DistilBERT with a sequence-classification head (2 labels), as sgugger's tiny classifier."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    _encoder("distilbert")(out)
    config = AutoConfig.from_pretrained(out, num_labels=2)
    config.architectures = ["DistilBertForSequenceClassification"]
    torch.manual_seed(0)
    AutoModelForSequenceClassification.from_config(config).save_pretrained(out)


STANDINS: Dict[str, Callable[[Path], None]] = {
    "distilbert-base-uncased": _encoder("distilbert"),
    "hf-internal-testing/tiny-random-DistilBertModel": _encoder("distilbert"),
    "hf-internal-testing/tiny-random-gpt2": _gpt2,
    "hf-internal-testing/tiny-random-xlnet": _xlnet,
    "hf-internal-testing/tiny-xlm-roberta": _encoder("xlm-roberta"),
    "albert-base-v2": _encoder("albert"),
    "roberta-base": _encoder("roberta"),
    "sgugger/tiny-distilbert-classification": _classifier,
}


def build_standins(folder: Path) -> Path:
    """Every stand-in under ``folder`` (skipping those already there); returns ``folder``."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    for name, build in STANDINS.items():
        out = folder / name
        if (out / "config.json").exists():
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        build(out)
    return folder


if __name__ == "__main__":
    print(build_standins(Path(sys.argv[1])))
