#!/usr/bin/env bash
# `make gpu-check`: on a machine with a CUDA GPU, install what is missing (carried wheels in
# .whl/ when there is no network), run the GPU tests and a short GPU benchmark.
# On the device tool: run scripts/gpu_wheels.sh here first, then carry .whl and .gpu-assets.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && PY=.venv/bin/python
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "✘ no CUDA GPU is visible to $PY (torch.cuda.is_available() is False)" >&2
  exit 1
fi
if [ -d .whl ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target /tmp/site .
  export PYTHONPATH=/tmp/site
elif [ ! -x .venv/bin/python ]; then
  "$PY" -m pip install -q -e '.[cuda12x,dev]'
fi
[ -d .gpu-assets/shared/data ] && export SPACY_TRANSFER_SHARED="$PWD/.gpu-assets/shared"
OUT=${OUT:-gpu-check-output}
mkdir -p "$OUT"
"$PY" -c "import torch, spacy, thinc, transformers; print('torch', torch.__version__, torch.cuda.get_device_name(0), 'spacy', spacy.__version__, 'transformers', transformers.__version__)"
set +e
# Only the files that hold GPU tests: the others import CPU-only extras (gensim) at collection.
GPU_TESTS=$(grep -rl "mark.gpu" tests --include='test_*.py')
"$PY" -m pytest -q -p no:cacheprovider -m gpu $GPU_TESTS 2>&1 | tee "$OUT/gpu-tests.log"
tests_rc=${PIPESTATUS[0]}
"$PY" -m benchmarks.gpu_bench 2>&1 | tee "$OUT/gpu-bench.log"
bench_rc=${PIPESTATUS[0]}
set -e
echo "gpu tests rc=$tests_rc, gpu bench rc=$bench_rc"
[ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ]
