# `make run` and `make test` build the virtual environment themselves: a fresh clone needs
# only Python >= 3.11 and make.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
CONFIG ?= config/demo.toml

.PHONY: install run test lint fmt type bench check clean test-deploy image

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[embedded,dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/listener run --config $(CONFIG)

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check listener tests bench
	$(BIN)/ruff format --check listener tests bench
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format listener tests bench
	$(BIN)/ruff check --fix listener tests bench

type: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/pip install -q -r bench/requirements.txt
	$(BIN)/python -m bench

check: lint type test

test-deploy: $(STAMP)
	$(BIN)/pytest -q tests/deploy

image:
	docker build -f deploy/Dockerfile -t listener:local .

clean:
	rm -rf $(VENV) .listener-data .pytest_cache .mypy_cache .ruff_cache
