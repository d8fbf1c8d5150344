# The README's two commands: `make demo` and `make test`.
# Both create .venv/, install the project, and install the Debian packages it
# needs when they are missing; both are safe to run again.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEBIAN_PACKAGES := chromium chromium-driver postgresql redis-server iproute2 tzdata
# Only for `make bench`: nginx serves bench_scale's generated site.
BENCH_PACKAGES := nginx-light

.PHONY: demo test lint bench bench-deps system-deps install clean

demo: install
	$(PY) -m examples.demo

# Two pytest-xdist workers, each test file on one worker (its module fixtures,
# servers and crawls built once): most tests wait on crawl subprocesses, servers
# and timers, so two workers finish the suite in about two thirds of the time
# even on 2 cores.  `PYTEST_WORKERS=0 make test` runs it in one process.
PYTEST_WORKERS ?= 2

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: install bench-deps
	$(PY) -m bench

bench-deps:
	@missing=""; \
	for p in $(BENCH_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages for the benchmarks:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

install: system-deps $(STAMP)

# apt-get runs only when a package is missing; root or sudo is needed then.
system-deps:
	@missing=""; \
	for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) crawl.db crawl.db-wal crawl.db-shm *.egg-info
