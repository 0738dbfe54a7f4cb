# One task runner. `make demo` and `make test` are the README's two commands: each installs what it
# needs into .venv first, so both work on a fresh machine with Python 3.11.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint typecheck install install-dev bench clean wheels msi

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[central]'  # the demo embeds head office's server
	touch $@

$(VENV)/.installed-dev: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/pos demo

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest

bench: install-dev
	$(BIN)/python bench/ledger.py

# The two distributions, for an index or `pip install --find-links dist/ pos-central` on a server.
wheels: install-dev
	$(BIN)/python -m pip wheel -q --no-deps -w dist . packaging/pos-central

# The Windows installer, authored with wixl from the bundle tree dist/pos/ (docs/deploying.md says
# why the tree built on Linux stands in for the Windows bundle here).
msi: install-dev
	$(BIN)/python packaging/windows/msi.py --bundle dist/pos

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
