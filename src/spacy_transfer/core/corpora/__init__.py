"""Read and write the corpora the tools train and pretrain on.

- :mod:`.files`: opening files (``.gz`` too), ``.spacy`` checks, atomic DocBin writes;
- :mod:`.conllu`: CoNLL-U treebanks (UD) through spaCy's own converter;
- :mod:`.uner`: UNER's IOB2 NER files, alone or joined to UD sentences by id;
- :mod:`.raw_texts`: raw text (JSONL, one text per line, ``.spacy``), streamed;
- :mod:`.convert`: the converter choice and ``convert``'s conversion to ``.spacy``.
"""

from .conllu import iter_conllu_blocks, read_conllu
from .convert import CONVERTERS, SPACY_CONVERTERS, convert_file, pick_converter
from .files import PathLike, docbin_problem, open_text, require_file, write_docbin
from .raw_texts import iter_raw_texts
from .uner import UNER_TAG_MAP, iter_iob2_sentences, read_iob2, read_ud_with_ner

__all__ = [
    "CONVERTERS",
    "PathLike",
    "SPACY_CONVERTERS",
    "UNER_TAG_MAP",
    "convert_file",
    "docbin_problem",
    "iter_conllu_blocks",
    "iter_iob2_sentences",
    "iter_raw_texts",
    "open_text",
    "pick_converter",
    "read_conllu",
    "read_iob2",
    "read_ud_with_ner",
    "require_file",
    "write_docbin",
]
