# One command runs the demo, one passes the tests; each installs what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 9000

.PHONY: install test lint demo clean system-deps node-ric

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "lambdastream needs Python 3.10+"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

# Debian packages the test suite drives (strace for syscall counts, chromium
# for the page test, autotools to build the official Node.js runtime client).
system-deps:
	bash tools/install-system-deps.sh

node-ric: system-deps
	bash tools/install-node-ric.sh

lint: install
	$(VENV)/bin/ruff check src tests examples bench
	$(VENV)/bin/ruff format --check src tests examples bench

test: install system-deps node-ric
	$(VENV)/bin/ruff check src tests examples bench
	$(PY) -m pytest -q

demo: install
	$(VENV)/bin/lambdastream dev examples.hello.handler --port $(PORT)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis
