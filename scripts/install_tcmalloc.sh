#!/usr/bin/env bash
# Best effort: install tcmalloc (gperftools' libtcmalloc_minimal), which the training commands
# run on where it is installed (src/spacy_transfer/core/allocator.py). Needs apt-get and root;
# anywhere else it says what to do and leaves the machine as it is (training then runs on the
# system's malloc, as before). Used by .ci/run and `make bench`.
set -u
if ldconfig -p 2>/dev/null | grep -q libtcmalloc_minimal; then
  exit 0
fi
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  if apt-get install -y -q libtcmalloc-minimal4 >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libtcmalloc-minimal4 >/dev/null 2>&1; }; then
    echo "installed libtcmalloc-minimal4: training commands run on tcmalloc"
    exit 0
  fi
fi
echo "note: tcmalloc is not installed and could not be installed here; training runs on the system's malloc" >&2
echo "      (apt-get install libtcmalloc-minimal4, dnf install gperftools-libs, or conda install gperftools)" >&2
exit 0
