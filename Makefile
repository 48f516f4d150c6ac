# `make run` and `make test` set up everything they need, idempotently, on a fresh machine
# with Python 3.11. Re-running them does nothing slow unless a dependency file changed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
PYTEST_ARGS ?=
BENCH_ARGS ?=
# Front-end: npm packages pinned by package-lock.json, bundled by esbuild (scripts/build-assets.mjs).
NODE_STAMP := node_modules/.installed
ASSETS_SRC := flask_notebook/static/flask_notebook/src
# The bundle also imports the pages' shared modules (js/api.js, js/dialogs.js).
ASSETS_JS := flask_notebook/static/flask_notebook/js
ASSETS_DIR := flask_notebook/static/flask_notebook/build
ASSETS_STAMP := $(ASSETS_DIR)/.built
# Browser tests drive Debian's chromium (Playwright never downloads a browser here).
CHROMIUM ?= /usr/bin/chromium
# The reverse-proxy tests (tests/deploy/) run Debian's nginx in front of the server.
NGINX ?= /usr/sbin/nginx
# Kernel sandboxes (NOTEBOOK_KERNEL_SANDBOX = "bubblewrap", the default with NOTEBOOK_USER_ROOT).
BWRAP ?= /usr/bin/bwrap
# Issue 22's tests start their own services in temporary directories: Debian's PostgreSQL 15
# (the shared store), its sshd (a remote kernel host in a network namespace), and a Jupyter
# Enterprise Gateway 3.3 in a virtualenv of its own (it needs jupyter_client<7).
PG_BIN ?= /usr/lib/postgresql/15/bin
SSHD ?= /usr/sbin/sshd
EG_VENV := .venv-eg
EG_STAMP := $(EG_VENV)/.installed

.PHONY: install assets browser nginx bubblewrap postgresql sshd gateway run test conformance bench bench-gateway bench-kernels bench-load bench-runs bench-sandbox bench-sessions bench-ui bench-reattach typecheck clean

install: $(STAMP) assets

assets: $(ASSETS_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(ASSETS_STAMP): $(NODE_STAMP) scripts/build-assets.mjs $(shell find $(ASSETS_SRC) $(ASSETS_JS) -type f 2>/dev/null)
	node scripts/build-assets.mjs
	touch $@

browser:
	@test -x $(CHROMIUM) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium)

# Only the binary is used: the tests start their own nginx on loopback, in the foreground.
nginx:
	@test -x $(NGINX) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx)

# `make run` installs it too: a server with NOTEBOOK_USER_ROOT refuses to start without it.
bubblewrap:
	@test -x $(BWRAP) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap)

postgresql:
	@test -x $(PG_BIN)/initdb || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql)

sshd:
	@test -x $(SSHD) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server openssh-client)

gateway: $(EG_STAMP)

$(EG_STAMP): requirements-gateway.txt
	test -x $(EG_VENV)/bin/python || $(PYTHON) -m venv $(EG_VENV)
	$(EG_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-gateway.txt
	touch $@

$(STAMP): requirements.txt requirements-test.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-test.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

run: install bubblewrap
	$(VENV)/bin/flask-notebook --root-dir .

# The conformance tests (tests/conformance/) run jupyter_server from the benchmark's
# environment beside our server; `--dist loadgroup` keeps them on one worker, with one pair
# of servers.
test: install browser nginx bubblewrap postgresql sshd $(EG_STAMP) $(BENCH_STAMP)
	$(PY) -m pytest -n auto --dist loadgroup $(PYTEST_ARGS)

# Only the side-by-side conformance run against jupyter_server (also part of `make test`);
# CONFORMANCE_EXAMPLES=N asks for more requests per operation than the default 30.
conformance: install $(BENCH_STAMP)
	$(PY) -m pytest -n 0 tests/conformance $(PYTEST_ARGS)

typecheck: install
	$(PY) -m pip install --quiet --disable-pip-version-check mypy==2.4.1
	$(PY) -m mypy

# The benchmark compares us with jupyter_server, which lives only in its own environment.
$(BENCH_STAMP): bench/requirements.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $@

bench: install $(BENCH_STAMP)
	$(PY) bench/run.py --jupyter-python $(BENCH_VENV)/bin/python

# The kernel WebSocket relay: us, jupyter_server and a direct ZMQ client (bench/kernels.py).
bench-kernels: install $(BENCH_STAMP)
	$(PY) bench/kernels.py --jupyter-python $(BENCH_VENV)/bin/python $(BENCH_ARGS)

# Sustained load: 20, then 50 kernels in a closed `1+1` loop, us then jupyter_server
# (bench/load.py); BENCH_ARGS=--soak for the 30-minute soak of our server alone.
bench-load: install $(BENCH_STAMP)
	$(PY) bench/load.py --jupyter-python $(BENCH_VENV)/bin/python $(BENCH_ARGS)

# Runs (issue 20): a notebook run by the server against papermill's CLI, and per cell against
# bare REST executions; the kernel sandbox's start against an unsandboxed kernel's (issue 19).
bench-runs: install $(BENCH_STAMP)
	$(PY) bench/runs.py --papermill $(BENCH_VENV)/bin/papermill $(BENCH_ARGS)

# The notebook page in headless chromium (issue 21): time until a 200-cell, 5 MB notebook is
# interactive and the JavaScript it took, against Notebook 7.6 on jupyter_server (bench/ui.py).
bench-ui: install browser $(BENCH_STAMP)
	$(PY) bench/ui.py --jupyter-python $(BENCH_VENV)/bin/python $(BENCH_ARGS)

# The sessions API under 32 concurrent clients, on one kernel: us (SQLite store) vs jupyter_server (bench/sessions.py).
bench-sessions: install $(BENCH_STAMP)
	$(PY) bench/sessions.py --jupyter-python $(BENCH_VENV)/bin/python $(BENCH_ARGS)

# Kernels on a Jupyter Gateway: the v1 round trip through us vs jupyter_server's gateway mode,
# in front of the same Enterprise Gateway (bench/gateway.py).
bench-gateway: install gateway $(BENCH_STAMP)
	$(PY) bench/gateway.py --jupyter-python $(BENCH_VENV)/bin/python $(BENCH_ARGS)

bench-sandbox: install bubblewrap
	$(PY) bench/sandbox.py $(BENCH_ARGS)

# NOTEBOOK_PERSIST_KERNELS: a new server re-attaches to the 50 kernels a killed one left
# running; time until all are listed, /api/status latency meanwhile (bench/reattach.py).
bench-reattach: install
	$(PY) bench/reattach.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(EG_VENV) build *.egg-info node_modules $(ASSETS_DIR)
