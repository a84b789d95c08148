# Two entry points for a new user: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.napari-fada-installed

.PHONY: setup system-deps demo test lint

setup: $(STAMP)

# torch is pinned to the CPU build first: an unpinned torch would pull a multi-GB CUDA build.
# llama-cpp-python (the llama extra) comes from a wheel cache outside the repo: see the script.
$(STAMP): pyproject.toml scripts/install-llama-cpp.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[napari,torch,hf,testing]"
	bash scripts/install-llama-cpp.sh $(VENV)
	touch $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

demo: setup system-deps
	$(BIN)/napari-fada demo

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

test: setup system-deps lint
	xvfb-run -a -s "-screen 0 1600x1000x24" $(BIN)/python -m pytest
