"""Tiny random-init Hugging Face encoders with tokenizers trained on a few sentences.

No pytest here: ``scripts/make_st_fixtures.py`` builds the same models inside the
spacy-transformers 1.4 venv (transformers 4.53) to make the compatibility fixtures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

ARCHS = ("bert", "roberta", "xlm-roberta", "deberta-v2", "distilbert", "electra", "albert", "modernbert")

# Enough variety for the tokenizers to learn pieces for words, punctuation, digits,
# accents, emoji, CJK and combining characters.
CORPUS: List[str] = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello world, this is a small test of the tokenizer!",
    "Émile went to Zürich in 2024 and paid €5.50 for coffee.",
    "I love New York 🙂 and 東京 and 北京大学.",
    "Combining accents: e\u0301 a\u0300 n\u0303 are tricky.",
    "Don't stop believing; it's 3:45 p.m. already...",
    "Apple is looking at buying a U.K. startup for $1 billion.",
    "San Francisco considers banning sidewalk delivery robots.",
    'She said: "Wait -- what?" and left (quickly).',
    "Numbers like 1,000,000 and 3.14159 appear in text.",
    "Tabs\tand  double  spaces and\nnewlines appear too.",
    "Ünïcödé wörds with diacritics: naïve café façade résumé.",
    "Emoji 👍🏽 🎉 ❤️ and symbols ©®™ show up online.",
    "The parser, the tagger and the entity recognizer share one transformer.",
    "Long documents are split into windows that overlap.",
] * 4

_SPECIALS = {
    "bert": dict(cls="[CLS]", sep="[SEP]", pad="[PAD]", unk="[UNK]", mask="[MASK]"),
    "roberta": dict(cls="<s>", sep="</s>", pad="<pad>", unk="<unk>", mask="<mask>"),
}
_KIND = {
    "bert": ("wordpiece", "bert"),
    "distilbert": ("wordpiece", "bert"),
    "electra": ("wordpiece", "bert"),
    "roberta": ("bytebpe", "roberta"),
    "modernbert": ("bytebpe", "bert"),
    "xlm-roberta": ("unigram", "roberta"),
    "deberta-v2": ("unigram", "bert"),
    "albert": ("unigram", "bert"),
}


def train_tokenizer(kind: str, specials: Dict[str, str], vocab_size: int = 400):
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

    order = [specials["pad"], specials["unk"], specials["cls"], specials["sep"], specials["mask"]]
    if kind == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token=specials["unk"]))
        tok.normalizer = normalizers.BertNormalizer(lowercase=False)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=order)
        tok.decoder = decoders.WordPiece()
    elif kind == "bytebpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=order, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        )
        tok.decoder = decoders.ByteLevel()
    elif kind == "unigram":
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=order, unk_token=specials["unk"]
        )
        tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    else:
        raise ValueError(kind)
    tok.train_from_iterator(CORPUS, trainer)
    cls_id, sep_id = tok.token_to_id(specials["cls"]), tok.token_to_id(specials["sep"])
    if kind == "bytebpe" and specials["cls"] == "<s>":
        tok.post_processor = processors.RobertaProcessing(
            (specials["sep"], sep_id), (specials["cls"], cls_id), trim_offsets=True, add_prefix_space=False
        )
    else:
        c, s = specials["cls"], specials["sep"]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{c} $A {s}", pair=f"{c} $A {s} $B {s}", special_tokens=[(c, cls_id), (s, sep_id)]
        )
    return tok


def _model_config(arch: str, vocab_size: int, ids: Dict[str, int], max_len: int):
    import transformers as t

    common = dict(vocab_size=vocab_size, pad_token_id=ids["pad"])
    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    if arch == "bert":
        return t.BertConfig(**common, **small, max_position_embeddings=max_len)
    if arch == "electra":
        return t.ElectraConfig(**common, **small, embedding_size=16, max_position_embeddings=max_len)
    if arch == "distilbert":
        return t.DistilBertConfig(
            **common, dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=max_len
        )
    if arch == "roberta":
        return t.RobertaConfig(
            **common,
            **small,
            max_position_embeddings=max_len + ids["pad"] + 1,
            bos_token_id=ids["cls"],
            eos_token_id=ids["sep"],
        )
    if arch == "xlm-roberta":
        return t.XLMRobertaConfig(
            **common,
            **small,
            max_position_embeddings=max_len + ids["pad"] + 1,
            bos_token_id=ids["cls"],
            eos_token_id=ids["sep"],
        )
    if arch == "deberta-v2":
        return t.DebertaV2Config(
            **common,
            **small,
            max_position_embeddings=max_len,
            relative_attention=True,
            position_buckets=16,
            pos_att_type=["p2c", "c2p"],
            position_biased_input=False,
        )
    if arch == "albert":
        return t.AlbertConfig(**common, **small, embedding_size=16, max_position_embeddings=max_len)
    if arch == "modernbert":
        return t.ModernBertConfig(
            **common,
            **small,
            max_position_embeddings=max_len,
            cls_token_id=ids["cls"],
            sep_token_id=ids["sep"],
            bos_token_id=ids["cls"],
            eos_token_id=ids["sep"],
            global_attn_every_n_layers=2,
            local_attention=16,
        )
    raise ValueError(f"unknown arch {arch}")


def make_tiny_model_dir(tmp_path: Path, arch: str = "bert", max_len: int = 64, seed: int = 0) -> Path:
    """Build a random-init ``arch`` encoder (hidden size 32) and its trained fast tokenizer in
    ``tmp_path/<arch>``; returns the folder (loadable by AutoModel/AutoTokenizer offline).

    ``max_len`` is the model's number of positions (and the tokenizer's model_max_length).
    """
    import torch
    from transformers import AutoModel, PreTrainedTokenizerFast

    kind, style = _KIND[arch]
    specials = _SPECIALS[style]
    tok = train_tokenizer(kind, specials)
    ids = {k: tok.token_to_id(v) for k, v in specials.items()}
    torch.manual_seed(seed)
    config = _model_config(arch, tok.get_vocab_size(), ids, max_len)
    model = AutoModel.from_config(config)
    out = Path(tmp_path) / f"{arch}-{max_len}"
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_max_length=max_len,
        cls_token=specials["cls"],
        sep_token=specials["sep"],
        pad_token=specials["pad"],
        unk_token=specials["unk"],
        mask_token=specials["mask"],
    )
    fast.save_pretrained(out)
    return out
