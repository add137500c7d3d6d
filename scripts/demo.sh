#!/usr/bin/env bash
# End-to-end demo on the bundled sample (grows as commands land).
set -euo pipefail
OUT=${DEMO_OUTPUT:-demo-output}
mkdir -p "$OUT"
spacy-transfer info
spacy-transfer init config "$OUT/config.cfg" --lang en --pipeline tagger,parser,ner --force
spacy-transfer init fill-config "$OUT/config.cfg" "$OUT/config_pretrain.cfg" --pretraining
echo "Configs written to $OUT/"
