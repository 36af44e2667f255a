# `make demo` and `make test` set everything up first, so they work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# On a machine without an NVIDIA driver, pin torch to the CPU wheel (constraints/cpu.txt)
# so set-up does not pull several GB of CUDA packages; GPU machines take any torch >= 2.4.
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && echo 1)
CONSTRAINTS := $(if $(HAS_GPU),,-c constraints/cpu.txt)

.PHONY: setup demo test test-slow lint format bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints/cpu.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	$(if $(HAS_GPU),,$(BIN)/python -m pip install -q $(CONSTRAINTS) torch)
	$(BIN)/uv pip install -q --python $(BIN)/python $(CONSTRAINTS) -e ".[dev]" \
		|| $(BIN)/python -m pip install -q $(CONSTRAINTS) -e ".[dev]"
	touch $(STAMP)

demo: setup
	$(BIN)/latent-lab quickstart --output-dir runs/quickstart

test: setup
	$(BIN)/python -m pytest -q

test-slow: setup
	$(BIN)/python -m pytest -q -m slow

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python bench/train_throughput.py

clean:
	rm -rf $(VENV) runs wandb .pytest_cache
