"""Who serves spacy-transformers' names in this environment: ``import spacy_transformers``,
the ``transformer`` factory and every ``spacy-transformers.*`` registered name.

spacy-transfer ships a compatibility package with spacy-transformers' import surface, but
not as a top-level ``spacy_transformers`` folder: the real spacy-transformers owns that
folder, and two distributions writing one folder overwrite each other's files. Instead,
this module lets ``import spacy_transformers`` find spacy-transfer's package
(``spacy_transfer/compat/spacy_transformers``) by a finder on ``sys.meta_path``:

- after the standard path finders (the default, ``SPACY_TRANSFORMERS_IMPL`` unset or
  ``spacy-transformers``): the real spacy-transformers serves when it is installed, and
  spacy-transfer's package only where it is not;
- before them (``SPACY_TRANSFORMERS_IMPL=spacy-transfer``): spacy-transfer serves even
  beside an installed spacy-transformers, which then stays on disk untouched.

spacy-transfer's entry points for the shared names point here
(``_spacy_transfer_st:architectures.create_TransformerModel_v3``), and this module
resolves them through the module ``spacy_transformers``: so they give the very objects of
whichever package serves, and the real package's entry points (``spacy_transformers:...``)
agree with ours. Nothing registers the ``transformer`` factory twice, whatever the order
in which spaCy loads the entry points.

``spacy_transfer_st.pth`` imports this module when the interpreter starts; it uses the
standard library only, and imports nothing else until a shared name is asked for.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from types import ModuleType
from typing import Any, Optional, Sequence

ENV = "SPACY_TRANSFORMERS_IMPL"
OURS = "spacy-transfer"
THEIRS = "spacy-transformers"
PACKAGE = "spacy_transformers"
SURFACE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spacy_transfer", "compat", PACKAGE)
# The modules whose attributes the registered names resolve to.
_SUBMODULES = ("architectures", "pipeline_component", "span_getters", "annotation_setters")


class SurfaceFinder(importlib.abc.MetaPathFinder):
    """Finds ``spacy_transformers`` in spacy-transfer's compatibility package; its
    submodules are then found through the package's ``__path__`` as usual."""

    def find_spec(
        self, fullname: str, path: Optional[Sequence[str]] = None, target: Optional[ModuleType] = None
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname != PACKAGE:
            return None
        return importlib.util.spec_from_file_location(
            PACKAGE, os.path.join(SURFACE, "__init__.py"), submodule_search_locations=[SURFACE]
        )


def choice() -> str:
    """The precedence asked for: ``spacy-transfer`` or ``spacy-transformers`` (the default;
    an unknown value counts as the default and :func:`check_choice` names it)."""
    value = os.environ.get(ENV, "").strip().lower()
    return OURS if value == OURS else THEIRS


def check_choice() -> Optional[str]:
    """A message for a value of ``SPACY_TRANSFORMERS_IMPL`` that is neither choice, else None."""
    value = os.environ.get(ENV, "").strip()
    if value and value.lower() not in (OURS, THEIRS):
        return f"{ENV}={value!r} is not a choice: use '{OURS}' or '{THEIRS}' (the default)"
    return None


_finder: Optional[SurfaceFinder] = None


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once): first if spacy-transfer is to serve, else last."""
    global _finder
    if _finder is not None:
        return
    _finder = SurfaceFinder()
    if choice() == OURS:
        sys.meta_path.insert(0, _finder)
    else:
        sys.meta_path.append(_finder)


def _is_surface(path: Optional[str]) -> bool:
    return bool(path) and os.path.abspath(str(path)).startswith(SURFACE + os.sep)


def serving() -> str:
    """Which package ``import spacy_transformers`` gives in this process: ``spacy-transfer``
    or ``spacy-transformers``."""
    install()
    loaded = sys.modules.get(PACKAGE)
    origin = (
        getattr(loaded, "__file__", None) if loaded is not None else importlib.util.find_spec(PACKAGE).origin
    )
    return OURS if _is_surface(origin) else THEIRS


def real_version() -> Optional[str]:
    """The installed spacy-transformers distribution's version, or None."""
    import importlib.metadata

    try:
        return importlib.metadata.version("spacy-transformers")
    except importlib.metadata.PackageNotFoundError:
        return None


def describe() -> str:
    """One line: who serves the shared names here, and how to switch."""
    version = real_version()
    who = serving()
    if version is None:
        return "spacy-transfer serves 'transformer' and 'spacy-transformers.*' (spacy-transformers is not installed)"
    if who == OURS:
        return (
            f"spacy-transfer serves the 'transformer' factory, 'spacy-transformers.*' names and 'import "
            f"spacy_transformers', in place of the installed spacy-transformers {version} ({ENV}={OURS}; "
            f"unset it to let spacy-transformers serve them)"
        )
    return (
        f"spacy-transformers {version} serves the 'transformer' factory, 'spacy-transformers.*' names and "
        f"'import spacy_transformers'; spacy-transfer's own component is the factory 'transfer_transformer' "
        f"(set {ENV}={OURS} to serve them from spacy-transfer, or {ENV}={THEIRS} to silence this)"
    )


_announced = False


def announce() -> None:
    """Say once per process who serves, where both packages are installed and the user has
    not chosen explicitly (and where the choice is not understood)."""
    global _announced
    if _announced:
        return
    _announced = True
    problem = check_choice()
    if problem:
        warnings.warn(problem, UserWarning, stacklevel=3)
    if real_version() is not None and (problem or not os.environ.get(ENV)):
        warnings.warn(describe(), UserWarning, stacklevel=3)


def __getattr__(name: str) -> Any:
    """``architectures``, ``pipeline_component``... of whichever package serves (the targets
    of spacy-transfer's entry points for the shared names)."""
    if name in _SUBMODULES:
        install()
        announce()
        return importlib.import_module(f"{PACKAGE}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
