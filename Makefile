# One task runner. `make demo` and `make test` are the README's two commands: each installs what it
# needs into .venv first, so both work on a fresh machine with Python 3.11.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint typecheck install install-dev bench clean wheels msi bundle packaging mutation deb

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

# Mutation testing of the critical modules with mutmut, module by module, one worker at nice 19
# (tools/mutation.py; figures and survivors in build/mutation/, explained in docs/reliability.md).
# Slow (hours on 2 cores): NOT part of `make test` or CI. `make mutation GROUPS="codes journal"`
# runs some groups only.
GROUPS ?=
mutation: install-dev
	nice -n 19 $(BIN)/python tools/mutation.py $(GROUPS)

bench: install-dev
	$(BIN)/python bench/ledger.py

# The two distributions, for an index or `pip install --find-links dist/ pos-central` on a server.
wheels: install-dev
	$(BIN)/python -m pip wheel -q --no-deps -w dist . packaging/pos-central

$(VENV)/.installed-packaging: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[packaging]'
	touch $@

# The till as a PyInstaller one-folder bundle, dist/pos/ with the executable dist/pos/pos
# (packaging/pos.spec; docs/deploying.md, "The bundle"). Rebuilt only when the code, the resources or
# the spec changed. PYINSTALLER=path uses that PyInstaller instead of .venv's (the tests pass theirs).
BUNDLE_INPUTS := packaging/pos.spec packaging/pos_main.py pyproject.toml \
	$(shell find pos sync resources -type f -not -path '*/__pycache__/*' 2>/dev/null)
ifeq ($(origin PYINSTALLER), undefined)
PYINSTALLER   := $(BIN)/pyinstaller
BUNDLE_TOOL   := $(VENV)/.installed-packaging
endif

bundle: dist/pos/pos

dist/pos/pos: $(BUNDLE_TOOL) $(BUNDLE_INPUTS)
	nice -n 15 $(PYINSTALLER) --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
		packaging/pos.spec
	touch $@

# Build every installer artefact (.ci/run runs this before `make test`; the tests on the artefacts are
# in the suite and call `make <artefact>`, which is then up to date).
packaging: bundle msi deb

# The Windows installer dist/storelink-pos-<version>.msi, authored with wixl from the bundle tree
# dist/pos/ (docs/deploying.md, "Windows: the MSI", says why the Linux tree stands in for the Windows
# bundle here). msi.py needs only the standard library and msitools (.ci/run installs them).
MSI_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n 1)
MSI         := dist/storelink-pos-$(MSI_VERSION).msi

msi: $(MSI)

$(MSI): dist/pos/pos packaging/windows/msi.py
	nice -n 15 $(PYTHON) packaging/windows/msi.py --bundle dist/pos --out $@

# The Debian package dist/storelink-pos_<version>_amd64.deb, staged from the bundle tree and built
# with dpkg-deb (packaging/deb/build_deb.py: standard library, dpkg-dev's tools; docs/deploying.md,
# "Linux: the Debian package").
DEB := dist/storelink-pos_$(MSI_VERSION)_amd64.deb

deb: $(DEB)

$(DEB): dist/pos/pos $(filter-out %__pycache__,$(wildcard packaging/deb/*)) docs/deploying.md
	nice -n 15 $(PYTHON) packaging/deb/build_deb.py --bundle dist/pos --out dist

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
