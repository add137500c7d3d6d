# spacy-transfer: `make demo` runs the toolchain end to end, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel of torch that lies on our machines; installed before anything can pull a CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo demo-trf test test-fast lint bench bench-avx2 accuracy compat-test gpu-check clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	# An editable install leaves out the .pth file a wheel puts in site-packages (setup.py).
	cp src/spacy_transfer_st.pth "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/"
	touch $@

demo: setup
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/demo.sh

demo-trf: setup
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/demo.sh --transformer

test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# ruff: lint and format check (settings in pyproject.toml); CI runs it before the tests.
lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

test-fast: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow"

# Benchmarks measure training as `spacy-transfer train` runs it: on tcmalloc where it can be installed.
bench: setup
	bash scripts/install_tcmalloc.sh
	$(BIN)/python -m benchmarks.run

# The transformer benchmarks with torch, oneDNN and MKL capped to their AVX2 code: an
# AVX2-only CPU's kernels on this one (results/*_avx2.json).
bench-avx2: setup
	bash scripts/install_tcmalloc.sh
	BENCH_CPU_KERNELS=avx2 $(BIN)/python -m benchmarks.run transformer transformer_train transformer_precision

# The README's accuracy table (STEPS training steps per pipeline).
accuracy: setup
	$(BIN)/python -m benchmarks.accuracy --steps $(or $(STEPS),2000)

# spacy-transformers 2.0's own test suite against our compatibility package and the real 2.0.
compat-test: setup
	$(BIN)/python scripts/compat_test.py

gpu-check:
	bash scripts/gpu_check.sh

clean:
	rm -rf $(VENV) build dist src/*.egg-info demo-output
