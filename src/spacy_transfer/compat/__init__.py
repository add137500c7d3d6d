"""Everything that exists only for spacy-transformers' names, layouts and rules.

- ``spacy_transformers/``: spacy-transformers' import surface (``import spacy_transformers``
  where the real package is not installed), which also registers the ``transformer``
  factory and every ``spacy-transformers.*`` name on our models (with spacy-transformers'
  alignment rule). It is imported under that name only, through ``_spacy_transfer_st``.
- :func:`serving` / :func:`describe`: who serves those names here, and how to switch.

The core never imports this package; the core reads spacy-transformers' saved format
(``core.transformer.serialization``) because loading a pipeline is the core's job.
"""

from __future__ import annotations

import _spacy_transfer_st as _hook

ENV = _hook.ENV


def serving() -> str:
    """``spacy-transfer`` or ``spacy-transformers``: the package that serves the shared names."""
    return _hook.serving()


def describe() -> str:
    return _hook.describe()


def real_version() -> "str | None":
    return _hook.real_version()


__all__ = ["ENV", "serving", "describe", "real_version"]
