# Two commands: `make lab` (install everything, open the course) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SHARED := $(abspath ../shared)

# Offline assets: used when ../shared is beside the repo and nothing else is set.
ifneq ($(wildcard $(SHARED)/data/flower_photos),)
export COURSE_DATA_DIR ?= $(SHARED)/data/flower_photos
endif
ifneq ($(wildcard $(SHARED)/models/mobilenet_v2_1.0_224_imagenet_no_top.h5),)
export COURSE_WEIGHTS ?= $(SHARED)/models/mobilenet_v2_1.0_224_imagenet_no_top.h5
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

lab: install
	@echo "Starting JupyterLab: open the http://127.0.0.1:8888/lab?token=... address printed below (Ctrl+C stops it)."
	$(BIN)/jupyter lab notebooks/00_start.ipynb $(ALLOW_ROOT)

# Unit tests, with a private course home (progress, caches, saved models) removed
# afterwards. Every notebook is executed in fast mode by tests/test_notebooks.py: as
# shipped (exercises unsolved) and, for lessons with exercises, in its solved edition.
test: install
	@home=$$(mktemp -d); \
	COURSE_FAST=1 COURSE_HOME=$$home MPLBACKEND=Agg \
	  $(BIN)/python -m pytest tests -p no:cacheprovider; \
	status=$$?; rm -rf $$home; exit $$status

clean:
	rm -rf $(VENV) build *.egg-info
