# One command runs the demo, one checks a change, one passes every test; each
# installs what it needs: make demo the package alone, make check the test
# tools too (no root, no system packages), make test the rest (Debian
# packages with apt-get, the Node.js client, the SAM CLI).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The package alone (what make demo runs), in the same venv; make install adds the dev extra.
PACKAGE_STAMP := $(VENV)/.installed-package
SAM_VENV := .venv-sam
PORT   ?= 9000
# The port after PORT, as lambdastream dev chooses it (any free one with PORT=0).
API_PORT ?= $(shell [ '$(PORT)' = 0 ] && echo 0 || echo $$(( $(PORT) + 1 )))
# The official Node.js client builds curl and aws-lambda-cpp from source
# (~100 s); keep the built addon outside the tree so fresh clones reuse it.
export NODE_RIC_CACHE_DIR ?= $(HOME)/.cache/lambdastream-node-ric

.PHONY: install test check lint demo bench soak clean system-deps node-ric ai-sdk test-pythons sam-cli readme-deploy-tools

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("lambdastream needs Python 3.10+") if sys.version_info < (3, 10) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

# The demo's own install: lambdastream and its three dependencies (~15 s), not
# the dev extra (~1.3 GB). A venv that make install made already has them.
$(PACKAGE_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("lambdastream needs Python 3.10+") if sys.version_info < (3, 10) else None'
	@if [ -f $(STAMP) ] && [ $(STAMP) -nt pyproject.toml ]; then touch $@; exit 0; fi; \
	set -e; \
	if ! test -x $(PY); then echo "make demo: creating the virtualenv $(VENV)"; $(PYTHON) -m venv $(VENV); fi; \
	$(PY) -c 'import pip, sys; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (21, 3))' \
	    || $(PY) -m pip install -q --disable-pip-version-check --upgrade pip; \
	echo "make demo: installing lambdastream and its dependencies (httptools, botocore, boto3) into $(VENV), ~15 s"; \
	$(PY) -m pip install -q --disable-pip-version-check -e .; \
	touch $@

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
# chunk-by-chunk test, strace for the wire-cost tests and benchmark. Installed
# with apt-get as root (sudo otherwise), said before; SYSTEM_DEPS=skip when
# they are installed already (make test SYSTEM_DEPS=skip): nothing is installed.
SYSTEM_DEPS ?= install
export SYSTEM_DEPS
system-deps:
	bash tools/install-system-deps.sh

# What the README's CDK/Terraform/Serverless snippets are checked with (osls, from npm).
readme-deploy-tools:
	bash tools/install-readme-deploy-tools.sh

# The official Node.js runtime client, our conformance peer.
node-ric:
	bash tools/install-node-ric.sh

# The Vercel AI SDK (npm ai, three majors), the UI message stream's conformance peer.
ai-sdk:
	bash tools/install-ai-sdk.sh

# The SAM templates the project ships (not what a local `sam build` left): the
# chat's, and init's for each --template (fastapi-template.yaml).
TEMPLATES = $(shell find examples src/lambdastream/deploy -name '*template.yaml' -not -path '*/.aws-sam/*')

lint: install
	$(VENV)/bin/ruff check src tests examples bench tools
	$(VENV)/bin/ruff format --check src tests examples bench tools
	$(PY) -m mypy src bench tools/test-pythons.py
	$(VENV)/bin/cfn-lint --include-checks I -- $(TEMPLATES)
	$(VENV)/bin/hadolint --failure-threshold info examples/chat/Dockerfile

test: install system-deps node-ric ai-sdk sam-cli readme-deploy-tools lint
	$(PY) -m pytest -q -p no:cacheprovider
	$(PY) tools/test-pythons.py

# The unit and local end-to-end tests, with nothing but the venv: no browser,
# no Node.js client, no SAM CLI, no strace, no network install, no root; the
# soak and the README's snippets are make test's. Four at a time (they mostly
# wait on sockets and processes): under 3 minutes on 2 cores.
CHECK_TESTS = tests/wire tests/runtime tests/e2e tests/local tests/web tests/httpserver \
	tests/chat/test_chat_validation.py tests/test_cli.py tests/test_invoke_cli.py \
	tests/test_vocabulary.py tests/test_import_graph.py tests/test_doctests.py \
	tests/test_fault_matrix.py tests/test_httpserver.py tests/test_missing_tools.py tests/chatapi \
	tests/test_docs_figures.py
CHECK_WORKERS ?= 4
check: install
	$(PY) -m pytest -q -p no:cacheprovider -n $(CHECK_WORKERS) --dist loadfile \
	    -m "not node and not browser and not strace" \
	    --deselect tests/local/test_dev_function_url.py::test_curl_n_shows_each_chunk_as_it_is_yielded \
	    $(CHECK_TESTS)

# The runtime's tests on every Lambda Python found here, one venv each
# (.venv-py3.X); under CI=true, 3.10 to 3.13 must be found.
test-pythons: install system-deps
	$(PY) tools/test-pythons.py

# Two environments initialized before the URL is shown (the page sends its
# streamed and buffered requests at once): the first Send is a fair race.
demo: $(PACKAGE_STAMP)
	@echo "make demo: starting the chat under lambdastream dev with a local Bedrock"
	@echo "Open http://127.0.0.1:$(PORT)/ in a browser, or in another terminal:"
	@echo "  $(VENV)/bin/lambdastream invoke http://127.0.0.1:$(PORT)/ --prompt 'Why stream?' --timing"
	$(VENV)/bin/lambdastream dev examples.chat.app.handler --root . --name chat \
	    --port $(PORT) --api-port $(API_PORT) --timeout 120 --bedrock-local --provisioned 2

# Every benchmark in one run (cold start, wire cost, relay, ASGI), and its
# report: bench/report/README.md with a chart, bench/report/ratios.png (~2 min;
# BENCH_ARGS=--quick for under 1; the as-deployed cold start needs the SAM CLI
# and python3.13). cargo-lambda, the relay's Rust peer, comes from
# PyPI (--no-deps: its zig is for cross-compiling only); it builds with the
# machine's cargo, offline.
BENCH_ARGS ?=
bench: install system-deps node-ric sam-cli
	$(PY) -m pip install -q --no-deps 'cargo-lambda>=1.9,<2'
	$(PY) -m bench.report $(BENCH_ARGS)
	$(PY) -m bench.figures_block --write

SEED ?= 1
# 10,000 streamed invocations through `lambdastream dev`, 50 in flight, every
# byte checked, failures injected, handler runs counted by request id,
# descriptor and process leaks counted (~2 min).
# A bounded run (500 invocations) is part of make test (tests/test_soak.py).
soak: install
	$(PY) -m bench.soak --invocations 10000 --in-flight 50 --seed $(SEED)

clean:
	rm -rf $(VENV) $(VENV)-py3.* $(SAM_VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .mypy_cache .hypothesis
