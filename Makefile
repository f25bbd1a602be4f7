# One command runs the demo, one passes the tests; each installs what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 9000
API_PORT := $(shell echo $$(( $(PORT) + 1 )))
# The official Node.js client builds curl and aws-lambda-cpp from source
# (~100 s); keep the built addon outside the tree so fresh clones reuse it.
export NODE_RIC_CACHE_DIR ?= $(HOME)/.cache/lambdastream-node-ric

.PHONY: install test lint demo bench clean system-deps node-ric test-pythons

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("lambdastream needs Python 3.10+") if sys.version_info < (3, 10) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

# Debian packages the tests drive: chromium for the page test, strace for
# the wire-cost benchmark.
system-deps:
	bash tools/install-system-deps.sh

# The official Node.js runtime client, our conformance peer.
node-ric:
	bash tools/install-node-ric.sh

lint: install
	$(VENV)/bin/ruff check src tests examples bench tools
	$(VENV)/bin/ruff format --check src tests examples bench tools
	$(PY) -m mypy src tools/test-pythons.py

test: install system-deps node-ric lint
	$(PY) -m pytest -q -p no:cacheprovider
	$(PY) tools/test-pythons.py

# The runtime's tests on every Lambda Python found here, one venv each
# (.venv-py3.X); under CI=true, 3.10 to 3.13 must be found.
test-pythons: install system-deps
	$(PY) tools/test-pythons.py

demo: install
	@echo "Open http://127.0.0.1:$(PORT)/ in a browser, or in another terminal:"
	@echo "  $(VENV)/bin/lambdastream invoke http://127.0.0.1:$(PORT)/ --prompt 'Why stream?' --timing"
	$(VENV)/bin/lambdastream dev examples.chat.app.handler --root . --name chat \
	    --port $(PORT) --api-port $(API_PORT) --timeout 120 --bedrock-local

bench: install system-deps node-ric
	$(PY) -m bench.cold_start
	$(PY) -m bench.syscalls
	$(PY) -m bench.relay

clean:
	rm -rf $(VENV) $(VENV)-py3.* build dist src/*.egg-info .pytest_cache .ruff_cache .mypy_cache .hypothesis
