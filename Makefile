# `make demo` and `make test` set everything up first, so they work on a fresh clone.
#
# Two environments:
#   .venv         `make setup` (and demo, test, lint ...): exactly the versions in
#                 constraints/lock.txt, so a run next month uses the same libraries as today.
#   .venv-latest  `make test-latest`: the newest releases inside pyproject.toml's ranges, no
#                 lock, running the fast suite, so a release that breaks us is found at once.
# `make lock` rewrites the lock after pyproject.toml changes (`make lock UPGRADE=1`: move
# every pin to the newest release inside the ranges); commit it with the change.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LATEST := .venv-latest
LOCK := constraints/lock.txt
TORCH := constraints/torch.txt
# The installers themselves, pinned so that set-up behaves the same next month too.
TOOLS := pip==26.3 uv==0.13.9
# PyPI's torch for Linux is a CUDA build of several GB. On a machine without an NVIDIA driver,
# pip first installs the CPU wheel of the pinned torch (constraints/torch.txt; this machine
# kind keeps it on disk where pip finds it); uv then sees it installed, and `torch==2.13.0` is
# met by 2.13.0+cpu. A GPU machine installs the same lock and takes torch 2.13.0 from PyPI,
# with the nvidia-* / cuda-* / triton packages it requires, which the lock leaves unpinned.
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && echo 1)
# One line of the versions that matter, so every CI log says what it tested.
VERSIONS := import importlib.metadata as m; print("versions:", ", ".join(f"{p} {m.version(p)}" \
	for p in ("torch", "transformers", "datasets", "trl", "accelerate", "peft", "huggingface_hub")))

.PHONY: setup demo test test-latest test-slow lint lock lock-check format bench clean

setup: $(STAMP)

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q $(TOOLS)

# The lock pins every package, transitive ones included; the project itself is installed
# editable in the same resolution, so its requirements are met by the pinned versions.
$(STAMP): pyproject.toml $(LOCK) $(TORCH) | $(BIN)/uv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q $(TOOLS)
	$(if $(HAS_GPU),,$(BIN)/python -m pip install -q -c $(LOCK) torch)
	$(BIN)/uv pip install -q --python $(BIN)/python -r $(LOCK) -e ".[dev]" \
		|| $(BIN)/python -m pip install -q -r $(LOCK) -e ".[dev]"
	touch $(STAMP)

demo: setup
	$(BIN)/latent-lab quickstart --output-dir runs/quickstart

test: setup
	@$(BIN)/python -c '$(VERSIONS)'
	$(BIN)/python -m pytest -q

# Not the lock: the newest releases inside pyproject.toml's ranges (uv --upgrade), in their
# own virtualenv, every time. Except torch on a machine without an NVIDIA driver: the newest
# torch on PyPI is a multi-GB CUDA build (and no newer CPU wheel is on this machine kind), so
# there it stays the CPU wheel of constraints/torch.txt; with a GPU it is the newest as well.
test-latest:
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install -q $(TOOLS)
	$(if $(HAS_GPU),,$(LATEST)/bin/python -m pip install -q -c $(TORCH) torch)
	$(LATEST)/bin/uv pip install -q --python $(LATEST)/bin/python --upgrade \
		--resolution highest $(if $(HAS_GPU),,-c $(TORCH)) -e ".[dev]"
	@$(LATEST)/bin/python -c '$(VERSIONS)'
	$(LATEST)/bin/python -m pytest -q

test-slow: setup
	$(BIN)/python -m pytest -q -m slow

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/python .ci/check_sizes.py

lock: | $(BIN)/uv
	UV=$(BIN)/uv constraints/compile_lock.sh $(if $(UPGRADE),--upgrade)

# Fails when pyproject.toml has changed and the lock was not rewritten (needs PyPI).
lock-check: | $(BIN)/uv
	UV=$(BIN)/uv constraints/compile_lock.sh --check

format: setup
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python bench/train_throughput.py

clean:
	rm -rf $(VENV) $(LATEST) runs wandb .pytest_cache
