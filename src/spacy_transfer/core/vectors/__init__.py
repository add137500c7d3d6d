"""Static word vectors: read every common format, prune/truncate, floret, build the vocab,
and train vectors from raw text (``spacy-transfer init vectors``).

- :mod:`.sources`: open (decompress, unpack) and detect a file's format, with progress;
- :mod:`.text` and :mod:`.binary`: the readers, each into a :class:`Table`
  (:mod:`.table`: words, matrix, dedupe, prune, and the reading :class:`Stats`);
- :mod:`.build`: conversion into a pipeline folder and its report; :mod:`.trainer`: gensim /
  floret training; :mod:`.analogies`: analogies.
"""

from .build import Report, convert_vectors, read_table
from .sources import FORMATS
from .table import Table

__all__ = ["FORMATS", "Report", "Table", "convert_vectors", "read_table"]
