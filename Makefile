# `make run` and `make test` build the virtual environment themselves: a fresh clone needs
# only Python >= 3.11 with pip, and make. pip installs the pinned, hashed installer (uv, from
# requirements/uv.txt) into .tools/; uv creates .venv/ itself (no ensurepip, so Debian's
# python3-venv is not needed) and installs exactly what uv.lock lists, checking every hash.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
TOOLS  ?= .tools
UV      = $(TOOLS)/bin/uv
CONFIG ?= config/demo.toml

# uv uses $(PYTHON) as given and never downloads an interpreter of its own.
export UV_PYTHON_DOWNLOADS = never
export UV_PROJECT_ENVIRONMENT = $(VENV)

.PHONY: install run test lint fmt type bench check clean test-deploy image lock

$(UV): requirements/uv.txt
	@$(PYTHON) -m pip --version >/dev/null 2>&1 || { echo "make: '$(PYTHON) -m pip' is missing: install pip for it (Debian/Ubuntu: apt-get install python3-pip) or pass PYTHON=/path/to/python3.11+" >&2; exit 1; }
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
		--only-binary :all: --upgrade --target $(TOOLS) -r requirements/uv.txt
	@touch $@

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --python $(PYTHON) --extra embedded --extra dev
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/listener run --config $(CONFIG)

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check listener testbed tests bench
	$(BIN)/ruff format --check listener testbed tests bench
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format listener testbed tests bench
	$(BIN)/ruff check --fix listener testbed tests bench

type: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes --no-deps -r bench/requirements.txt
	$(BIN)/python -m bench

check: lint type test

test-deploy: $(STAMP)
	$(BIN)/pytest -q tests/deploy

image:
	docker build -f deploy/Dockerfile -t listener:local .

# After changing dependencies in pyproject.toml (network needed): re-resolve uv.lock and the
# bench's pins from it. `make lock LOCK_FLAGS=--upgrade` moves every pin to the newest release.
lock: $(UV)
	$(UV) lock $(LOCK_FLAGS)
	$(UV) export --frozen --quiet --no-emit-project --all-extras --no-hashes --no-annotate \
		--no-header --output-file $(TOOLS)/constraints.txt
	{ echo "# What \`python -m bench\` needs beyond the package: the pyfacebook contender, pinned and"; \
	  echo "# hashed at uv.lock's versions (\`make lock\` writes this file; \`make bench\` installs it)."; \
	  echo "python-facebook-api==0.24.0" | $(UV) pip compile - --quiet --universal --generate-hashes \
		--no-header --no-annotate --python-version 3.11 --constraints $(TOOLS)/constraints.txt; \
	} > bench/requirements.txt

clean:
	rm -rf $(VENV) $(TOOLS) .listener-data .pytest_cache .mypy_cache .ruff_cache
