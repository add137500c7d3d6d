"""Config templates shipped with the package (read with :func:`template_path`)."""

from pathlib import Path

TEMPLATES_DIR = Path(__file__).parent


def template_path(name: str) -> Path:
    return TEMPLATES_DIR / name
