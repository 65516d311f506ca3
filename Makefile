# `make run` and `make test` are the two promised commands (README.md); the rest help.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
# Stamps remember which requirements are installed; make reinstalls when a file is newer.
RUN_STAMP := $(VENV)/.requirements.stamp
DEV_STAMP := $(VENV)/.requirements-dev.stamp

# System packages the tests need, as command:package pairs, installed with apt-get when the
# command is missing and we are root (elsewhere a note says what to install).
# redis-server: the end-to-end tests start their own; prometheus-alertmanager: a real peer for
# the prometheus-alertmanager integration; chromium: the admin's browser tests (Playwright drives it).
TEST_SYSTEM_PACKAGES ?= redis-server:redis-server prometheus-alertmanager:prometheus-alertmanager chromium:chromium
# The same for `make bench`: wrk drives the load; Alertmanager is what this project is compared with.
BENCH_SYSTEM_PACKAGES ?= wrk:wrk redis-server:redis-server prometheus-alertmanager:prometheus-alertmanager

.PHONY: run worker web test lint bench migrate clean system-packages bench-system-packages

run: $(RUN_STAMP) .env migrate
	$(MANAGE) collectstatic --noinput --verbosity 0
	$(MANAGE) ensure_admin
	$(MANAGE) run_all

worker: $(RUN_STAMP)
	$(MANAGE) run_all --only worker

web: $(RUN_STAMP) .env migrate
	$(MANAGE) collectstatic --noinput --verbosity 0
	$(MANAGE) run_all --only web

migrate: $(RUN_STAMP) .env
	$(MANAGE) migrate --noinput

test: $(DEV_STAMP) system-packages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

bench: $(DEV_STAMP) bench-system-packages
	$(BIN)/python -m bench
	$(BIN)/python -m bench.admin_pages

# Keeps .env and the database: .env holds the key that decrypts the stored secrets.
clean:
	rm -rf $(VENV) .run .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed: set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): requirements.txt | $(BIN)/python
	@echo "Installing requirements.txt into $(VENV)"
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): requirements-dev.txt requirements.txt | $(BIN)/python
	@echo "Installing requirements-dev.txt into $(VENV)"
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# Only when missing: a new ENCRYPTION_KEYS would orphan every secret already stored.
.env: | $(RUN_STAMP)
	$(BIN)/python -m project.envfile

# $(call install_missing,COMMAND:PACKAGE pairs,what to say when it cannot install,then) installs
# the packages whose command is missing, with apt-get when root; otherwise it says so, then runs `then`.
define install_missing
	@missing=""; \
	for pair in $(1); do \
		command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "Missing system packages:$$missing. Install them; $(2)"; $(3) \
	fi
endef

system-packages:
	$(call install_missing,$(TEST_SYSTEM_PACKAGES),the tests that need them are skipped.,true;)

bench-system-packages:
	$(call install_missing,$(BENCH_SYSTEM_PACKAGES),the bench needs them.,exit 1;)
