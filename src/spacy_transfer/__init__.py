"""spacy-transfer: transfer learning for spaCy pipelines.

Importing the package registers its factories, architectures, span getters and
annotation setters with spaCy's registry (entry points do the same lazily for
``spacy.load``).
"""

from .core.allocator import restart_training_cli

# Before anything heavy loads: `spacy-transfer train` restarts itself on tcmalloc here, once.
restart_training_cli()

import _spacy_transfer_st  # noqa: E402

from .registry import registry  # noqa: E402

# Where the .pth file did not run (e.g. a source tree on PYTHONPATH), `import
# spacy_transformers` still finds our surface once spacy_transfer is imported.
_spacy_transfer_st.install()

__version__ = "0.1.0"

# Capabilities that register names with spaCy; each import is cheap to add here.
# (registration imports)
# spacy-transformers' alignment rule and saved formats, plugged into the core's extension points.
from .compat import alignment as _st_alignment  # noqa: E402,F401
from .compat import formats as _st_formats  # noqa: E402,F401
from .core import distill as _distill  # noqa: E402,F401  (the distillation reader)
from .core import pretraining as _pretraining  # noqa: E402,F401  (raw-text reader, masked-LM objective)
from .core import transformer as _transformer  # noqa: E402,F401  (transformer component + names)

__all__ = ["registry", "__version__"]
