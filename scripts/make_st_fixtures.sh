#!/usr/bin/env bash
# Rebuild tests/fixtures/st14 with the real spacy-transformers 1.4.0 in a venv of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="$(.venv/bin/python -m benchmarks._anchor)"
"$PY" scripts/make_st_fixtures.py
