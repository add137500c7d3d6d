"""Everything that exists only for spacy-transformers' names, layouts and rules.

- ``spacy_transformers/``: spacy-transformers' import surface (``import spacy_transformers``
  where the real package is not installed), which also registers the ``transformer``
  factory and every ``spacy-transformers.*`` name on our models (with spacy-transformers'
  alignment rule). It is imported under that name only, through ``_spacy_transfer_st``.
- :mod:`.alignment`: spacy-transformers 1.4's token-to-wordpiece rule, registered with the
  core (``core.transformer.alignment.register_alignment``) as ``"spacy-transformers"``;
- :mod:`.formats`: its saved transformer (1.x torch state dict, 2.x safetensors), registered
  as a foreign shim format (``core.transformer.serialization.register_reader``);
- :mod:`.migrate`: ``spacy-transfer migrate``, a spacy-transformers pipeline rewritten in ours;
- :func:`serving` / :func:`describe`: who serves those names here, and how to switch.

The core never imports this package: it offers extension points, and importing
``spacy_transfer`` registers these with them.
"""

from __future__ import annotations

import contextlib

import _spacy_transfer_st as _hook

ENV = _hook.ENV


def serving() -> str:
    """``spacy-transfer`` or ``spacy-transformers``: the package that serves the shared names."""
    return _hook.serving()


def register_names() -> None:
    """Register spacy-transformers' names now (ours, or the real package's where it serves them),
    not at the first config that uses one: ``spacy-transfer info`` lists them."""
    with contextlib.suppress(ImportError):  # a broken real package: info still runs
        import spacy_transformers  # noqa: F401


def describe() -> str:
    return _hook.describe()


def real_version() -> "str | None":
    return _hook.real_version()


__all__ = ["ENV", "serving", "describe", "real_version"]
