"""The config system every command shares: read, override, import code, fill, validate.

- :mod:`.loading`: read a config (file or stdin), apply overrides, import --code;
- :mod:`.overrides`: ``--section.key value`` parsing; :mod:`.fill`: spaCy's defaults and
  our [pretraining] blocks (``init fill-config``);
- :mod:`.generate` (``init config``): a :class:`ConfigRequest` (:mod:`.request`) rendered
  from the section builders in :mod:`.blocks`.
"""

from ..validation import (
    check_language,
    check_registered_names,
    check_unknown_settings,
    check_vectors_path,
    config_errors,
)
from .fill import config_diff, fill_config, pretraining_defaults
from .generate import ConfigRequest, build_config_text
from .loading import import_code, load_config, load_training_config, read_config_text, source_name
from .overrides import parse_overrides

__all__ = [
    "ConfigRequest",
    "build_config_text",
    "check_language",
    "check_registered_names",
    "check_unknown_settings",
    "check_vectors_path",
    "config_diff",
    "config_errors",
    "fill_config",
    "import_code",
    "load_config",
    "load_training_config",
    "parse_overrides",
    "pretraining_defaults",
    "read_config_text",
    "source_name",
]
