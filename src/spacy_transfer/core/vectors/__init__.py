"""Static word vectors: read every common format, prune/truncate, floret, build the vocab,
and train vectors from raw text (``spacy-transfer init vectors``)."""

from .build import Report, convert_vectors, read_table
from .sources import FORMATS
from .table import Table

__all__ = ["FORMATS", "Report", "Table", "convert_vectors", "read_table"]
