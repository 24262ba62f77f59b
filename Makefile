# tunespace: two commands.  `make demo` and `make test` each create or reuse .venv.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first: 2.13.0 is a local CPU build here; a bare "torch" would pull a CUDA build.
	$(PIP) install --quiet "torch==2.13.0"
	# tinysoundfont's metadata asks for pyaudio (live playback only, does not build): no deps.
	$(PIP) install --quiet --no-deps "tinysoundfont>=0.3.6"
	# every optional part (music21, umap-learn, tensorboard, submitit): the demo and the tests use them
	$(PIP) install --quiet -e ".[all,test,bench]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m tunespace study --preset demo --out out/demo
	@echo ""
	@echo "Hear the neighbourhoods each augmentation makes (web explorer on 127.0.0.1:8000):"
	@echo "  $(VENV)/bin/tunespace serve --study out/demo --open"

test: $(STAMP)
	# lint and format check first: a style slip fails fast, before the slow tests
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	# a private numba cache per run: a cache left corrupt by concurrent writers elsewhere
	# must not crash the suite (librosa compiles with numba, cache=True)
	NUMBA_CACHE_DIR=$$(mktemp -d) $(PY) -m pytest -q -x --timeout=900

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
