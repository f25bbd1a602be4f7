# One command runs the demo, one passes the tests; each installs what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SAM_VENV := .venv-sam
PORT   ?= 9000
API_PORT := $(shell echo $$(( $(PORT) + 1 )))
# The official Node.js client builds curl and aws-lambda-cpp from source
# (~100 s); keep the built addon outside the tree so fresh clones reuse it.
export NODE_RIC_CACHE_DIR ?= $(HOME)/.cache/lambdastream-node-ric

.PHONY: install test lint demo bench soak clean system-deps node-ric test-pythons sam-cli readme-deploy-tools

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("lambdastream needs Python 3.10+") if sys.version_info < (3, 10) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

# The SAM CLI, for the template and `sam build` tests: in a venv of its own,
# since it pins boto3 to one version; linked into .venv/bin for the tests.
$(SAM_VENV)/.installed: $(STAMP)
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q --upgrade pip
	$(SAM_VENV)/bin/python -m pip install -q 'aws-sam-cli>=1.170,<2'
	ln -sf ../../$(SAM_VENV)/bin/sam $(VENV)/bin/sam
	touch $@

sam-cli: $(SAM_VENV)/.installed

# Debian packages the tests drive: chromium for the page test, curl for the
# chunk-by-chunk test, strace for the wire-cost tests and benchmark.
system-deps:
	bash tools/install-system-deps.sh

# What the README's CDK/Terraform/Serverless snippets are checked with (osls, from npm).
readme-deploy-tools:
	bash tools/install-readme-deploy-tools.sh

# The official Node.js runtime client, our conformance peer.
node-ric:
	bash tools/install-node-ric.sh

# The SAM templates the project ships (not what a local `sam build` left): the
# chat's, and init's for each --template (fastapi-template.yaml).
TEMPLATES = $(shell find examples src/lambdastream/deploy -name '*template.yaml' -not -path '*/.aws-sam/*')

lint: install
	$(VENV)/bin/ruff check src tests examples bench tools
	$(VENV)/bin/ruff format --check src tests examples bench tools
	$(PY) -m mypy src tools/test-pythons.py
	$(VENV)/bin/cfn-lint --include-checks I -- $(TEMPLATES)
	$(VENV)/bin/hadolint --failure-threshold info examples/chat/Dockerfile

test: install system-deps node-ric sam-cli readme-deploy-tools lint
	$(PY) -m pytest -q -p no:cacheprovider
	$(PY) tools/test-pythons.py

# The runtime's tests on every Lambda Python found here, one venv each
# (.venv-py3.X); under CI=true, 3.10 to 3.13 must be found.
test-pythons: install system-deps
	$(PY) tools/test-pythons.py

# Two environments initialized before the URL is shown (the page sends its
# streamed and buffered requests at once): the first Send is a fair race.
demo: install
	@echo "Open http://127.0.0.1:$(PORT)/ in a browser, or in another terminal:"
	@echo "  $(VENV)/bin/lambdastream invoke http://127.0.0.1:$(PORT)/ --prompt 'Why stream?' --timing"
	$(VENV)/bin/lambdastream dev examples.chat.app.handler --root . --name chat \
	    --port $(PORT) --api-port $(API_PORT) --timeout 120 --bedrock-local --provisioned 2

# Every benchmark in one run (cold start, wire cost, relay, ASGI), and its
# report: bench/report/README.md with a chart, bench/report/ratios.png (~2 min;
# BENCH_ARGS=--quick for under 1). cargo-lambda, the relay's Rust peer, comes from
# PyPI (--no-deps: its zig is for cross-compiling only); it builds with the
# machine's cargo, offline.
BENCH_ARGS ?=
bench: install system-deps node-ric
	$(PY) -m pip install -q --no-deps 'cargo-lambda>=1.9,<2'
	$(PY) -m bench.report $(BENCH_ARGS)

SEED ?= 1
# 10,000 streamed invocations through `lambdastream dev`, 50 in flight, every
# byte checked, failures injected, handler runs counted by request id,
# descriptor and process leaks counted (~2 min).
# A bounded run (500 invocations) is part of make test (tests/test_soak.py).
soak: install
	$(PY) -m bench.soak --invocations 10000 --in-flight 50 --seed $(SEED)

clean:
	rm -rf $(VENV) $(VENV)-py3.* $(SAM_VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .mypy_cache .hypothesis
