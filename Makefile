# Two commands: `make lab` (install everything, open the course) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Offline assets (photos, weights): where course_utils/config.py says they lie (../shared beside
# the repo, the one place that spells it), used when they are there and nothing else is set.
OFFLINE := $(shell $(PYTHON) -c "from course_utils.config import offline_assets; print(*offline_assets('.'))" 2>/dev/null)
ifneq ($(wildcard $(word 1,$(OFFLINE))),)
export COURSE_DATA_DIR ?= $(word 1,$(OFFLINE))
endif
ifneq ($(wildcard $(word 2,$(OFFLINE))),)
export COURSE_WEIGHTS ?= $(word 2,$(OFFLINE))
endif

.PHONY: install lab test clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -r requirements.txt
	touch $@

# JupyterLab refuses to start as root unless told to (containers, cloud machines): only then pass --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

# Fewer glibc malloc arenas for the kernels JupyterLab starts (config.MALLOC_ARENAS): lesson 09 peaked at
# 3 578 MB instead of 3 880 MB (benchmarks/bench_lessons.py, 2 Dec 2026). Set it yourself to override.
ARENAS := $(shell $(PYTHON) -c "from course_utils.config import MALLOC_ARENAS; print(MALLOC_ARENAS)" 2>/dev/null)

lab: install
	@echo "Starting JupyterLab: open the http://127.0.0.1:8888/lab?token=... address printed below (Ctrl+C stops it)."
	MALLOC_ARENA_MAX=$${MALLOC_ARENA_MAX:-$(ARENAS)} $(BIN)/jupyter lab notebooks/00_start.ipynb $(ALLOW_ROOT)

# Test processes (pytest-xdist): each test file is one unit of work; the browser tests and the
# lessons are one unit, sent first (tests/conftest.py). TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

# One thread in each of TensorFlow's two thread pools (intra-op, inter-op) in every test process (the
# lessons' kernels and the CLI runs inherit it), where two workers and two lesson kernels share the 2 cores.
# make test on one machine (2 Dec 2026): without, 662.3 and 684.7 s (1 222 and 1 268 s CPU); with, 617.5, 574.3 s
# (1 141, 1 068 s CPU) and, in clean-clone .ci/runs, 644.5 and 689.9 s: wall time is noisy, CPU time fell ~10%.
TEST_TF_THREADS ?= 1

# Unit tests, with a private course home (progress, caches, saved models) removed
# afterwards. Every notebook is executed in fast mode by tests/test_notebooks.py: as
# shipped (exercises unsolved) and, for lessons with exercises, in its solved edition (up to the
# first code cell after the last exercise).
test: install
	@home=$$(mktemp -d); \
	COURSE_FAST=1 COURSE_HOME=$$home MPLBACKEND=Agg \
	  TF_NUM_INTRAOP_THREADS=$(TEST_TF_THREADS) TF_NUM_INTEROP_THREADS=$(TEST_TF_THREADS) \
	  $(BIN)/python -m pytest tests -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder; \
	status=$$?; rm -rf $$home; exit $$status

clean:
	rm -rf $(VENV) build *.egg-info
