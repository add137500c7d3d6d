#!/usr/bin/env bash
# Rebuild tests/fixtures/st14 and st20 with the real spacy-transformers 1.4.0 and 2.0, each in
# a venv of its own (benchmarks/_anchor.py). `make_st_fixtures.sh st20` rebuilds one.
set -euo pipefail
cd "$(dirname "$0")/.."
for anchor in "${@:-st14 st20}"; do
  for name in $anchor; do
    PY="$(.venv/bin/python -m benchmarks._anchor "$name")"
    "$PY" scripts/make_st_fixtures.py "$name"
  done
done
