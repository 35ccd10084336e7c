# Mamoru developer commands. `make help` lists them.
# Everything runs from this directory; scripts/setup.sh installs what is missing.

SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

PIP_COMPILE_FLAGS := --quiet --generate-hashes --extra dev --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links

.PHONY: help setup run test lint lock lock-upgrade triage

help: ## Show this help
	@echo "Mamoru: make <target>"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

setup: ## Install Python and Node packages from the lock files (idempotent)
	@scripts/setup.sh

run: setup ## Start Mamoru (anonymous, local) with the Agents Playground; Ctrl-C stops both
	@scripts/run-local.sh

test: ## Run every test (installs Debian's Chromium for the e2e tests if missing; needs root then)
	@scripts/setup.sh --browser
	@scripts/test.sh $(PYTEST_ARGS)

lint: setup ## ruff check, ruff format --check, mypy (all three run; fails if any fails)
	@status=0; \
	echo "ruff check ."; $(VENV)/bin/ruff check . || status=1; \
	echo "ruff format --check ."; $(VENV)/bin/ruff format --check . || status=1; \
	echo "mypy"; $(VENV)/bin/mypy || status=1; \
	exit $$status

lock: ## Regenerate requirements.lock from pyproject.toml (keeps current pins where possible)
	@scripts/setup.sh --tools
	$(VENV)/bin/pip-compile $(PIP_COMPILE_FLAGS) -o requirements.lock pyproject.toml

lock-upgrade: ## Regenerate requirements.lock with the newest allowed versions
	@scripts/setup.sh --tools
	$(VENV)/bin/pip-compile $(PIP_COMPILE_FLAGS) --upgrade -o requirements.lock pyproject.toml

triage: setup ## Retrain the message classifier from bot/triage/corpus; prints the dev-split report
	$(VENV)/bin/mamoru triage train
