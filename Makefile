# Set-up and main jobs of the course.  `make demo` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SHARED_MNIST := $(abspath ../shared/data/MNIST/raw)
# nbgrader calls `alembic` as a subprocess: the environment's bin/ must be on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: hub hub-install postgresql install demo test release check benchmark report clean

install: $(STAMP) offline-mnist postgresql hub-install

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@# graphviz: the `dot` binary for draw_dot; bubblewrap: the sandbox of the grading kernels
	@if ! command -v dot >/dev/null || ! command -v bwrap >/dev/null; then \
	  echo "installiere Debian-Pakete: graphviz bubblewrap"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq graphviz bubblewrap; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq graphviz bubblewrap; fi; fi
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -c constraints.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# The PostgreSQL gradebook tests start a throw-away server (initdb/pg_ctl from Debian's postgresql package).
postgresql:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "installiere Debian-Paket: postgresql"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq postgresql; fi; fi

# Tests and CI have no internet: use the MNIST subset in ../shared/data when it is there.
offline-mnist:
	@if [ -d "$(SHARED_MNIST)" ] && [ ! -e data/MNIST/raw ]; then \
	  mkdir -p data/MNIST && ln -s "$(SHARED_MNIST)" data/MNIST/raw && echo "MNIST: Offline-Teilmenge aus $(SHARED_MNIST)"; fi

demo: install
	$(PY) -m course demo

test: install
	$(PY) -m pytest -n 2 --dist loadfile tests

release: install
	$(PY) -m course release

check: install
	$(PY) -m course check

benchmark: install
	$(PY) benchmarks/run.py

clean:
	rm -rf autograded/*/ submitted/*/ feedback/*/ gradebook.db grades.csv grades_aufgaben.csv reports

# JupyterHub (deploy/, `make hub`): the proxy from npm into deploy/node_modules, Debian's chromium for
# the browser test (tests/test_hub.py drives it with Playwright; Playwright's own browsers are not used).
HUB_PROXY := deploy/node_modules/.bin/configurable-http-proxy

hub-install: $(HUB_PROXY)
	@if ! command -v chromium >/dev/null; then \
	  echo "installiere Debian-Paket: chromium"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; fi

$(HUB_PROXY): deploy/package.json deploy/package-lock.json
	cd deploy && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Local demo hub with test accounts (as root: creates the unix users), http://nn-kurs.localhost:8000
hub: install
	$(PY) deploy/kurs_hub.py start
