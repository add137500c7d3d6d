"""A trained student's string store, cut to what the pipeline needs.

Every text a pipeline tokenizes adds its words (and their norms, prefixes, suffixes and
shapes) to ``nlp.vocab.strings``, and ``nlp.to_disk`` saves them all. After training on
hundreds of thousands of raw-text docs that is most of the student's size (5 MB of a
9 MB CNN pipeline), and none of it is needed: a loaded pipeline adds the strings of the
texts it is given again. What is needed is what the components' own files do not carry:
their labels (a tagger sets ``token.tag`` to a label's hash, and ``tag_`` looks it up) and
the keys of the static vectors. The cut is checked, not assumed: the pruned pipeline must
annotate sample texts exactly as the full one does, or the strings are left as they were.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, List, Optional, Set

import spacy
import srsly
from spacy.language import Language

STRINGS = Path("vocab") / "strings.json"


def needed_strings(nlp: Language) -> Set[str]:
    """The language's own strings, every component's labels and the static vectors' keys."""
    keep = set(spacy.blank(nlp.lang).vocab.strings)
    for _, pipe in nlp.pipeline:
        keep.update(label for label in getattr(pipe, "labels", None) or () if isinstance(label, str))
    strings = nlp.vocab.strings
    keep.update(strings[key] for key in nlp.vocab.vectors.keys() if key in strings)
    return keep


def annotations(nlp: Language, texts: Iterable[str]) -> List[dict]:
    """Everything a pipeline sets on its docs, as strings (``Doc.to_json`` reads each through
    the string store, so a missing string fails here)."""
    return [doc.to_json() for doc in nlp.pipe(texts)]


def prune_strings(path: Path, texts: List[str]) -> Optional[str]:
    """Rewrite ``path/vocab/strings.json`` with the strings the pipeline needs, if the
    pruned pipeline annotates ``texts`` as the full one does. Returns why not, or None."""
    full = spacy.load(path)
    keep = needed_strings(full)
    if len(keep) >= len(full.vocab.strings):
        return None
    expected = annotations(full, texts)
    with tempfile.TemporaryDirectory(prefix=".prune-", dir=path.parent) as tmp:
        trial = Path(tmp) / path.name
        shutil.copytree(path, trial)
        srsly.write_json(trial / STRINGS, sorted(keep))
        try:
            same = annotations(spacy.load(trial), texts) == expected
        except KeyError as err:  # a string the pipeline needs and the cut left out
            return f"the pruned pipeline misses a string ({err})"
        if not same:
            return "the pruned pipeline annotates the sample texts differently"
        # The file just checked replaces the old one (same filesystem: an atomic rename).
        os.replace(trial / STRINGS, path / STRINGS)
    return None
