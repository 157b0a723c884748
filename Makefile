# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test bench lint lock clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@echo "==> Creating $(VENV) and installing the pinned dependencies (requirements.lock; a few minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install --progress-bar off -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	@$(BIN)/python -c "import reconcile, duckdb, papermill, simple_salesforce" && echo "==> Installed into $(VENV)"
	touch $(STAMP)

## demo: install, generate demo snapshots, start the local sandbox org, plan, approve, apply, report
demo: install
	$(BIN)/reconcile demo --workdir demo

## test: the whole test suite (real kernels, real HTTPS to the local sandbox org, headless Chromium), one pytest-xdist
## worker per core (TEST_WORKERS=1 runs it in one process; each worker starts its own sandbox org per test module)
TEST_WORKERS ?= auto
test: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

## bench: performance measurements (not part of `make test`); LEADS=1000000 by default
LEADS ?= 1000000
bench: install
	$(BIN)/python -m bench --leads $(LEADS)

## lint: ruff check (pycodestyle + pyflakes) and ruff format --check, sqlfluff on sql/ (DuckDB dialect; settings in pyproject.toml), stripped notebooks
lint: install
	$(BIN)/ruff check reconcile tests bench
	$(BIN)/ruff format --check reconcile tests bench
	$(BIN)/sqlfluff lint sql/ --dialect duckdb
	$(BIN)/nbstripout --verify --keep-id notebooks/*.ipynb

## lock: refresh requirements.lock from pyproject.toml (run after changing dependencies)
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install -q --upgrade pip
	.lockenv/bin/python -m pip install -q -e '.[test,bench]'
	.lockenv/bin/python -m pip freeze --all --exclude-editable | grep -vE "^(reconcile|pip)==" > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) demo reports/*/ .pytest_cache
