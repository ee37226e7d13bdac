# Two entry points (see README):
#   make main   -- set up .venv, run all experiments (quick profile) -> results/, figures/,
#                  paper_checks.md
#   make test   -- set up .venv, run the default test suite
#   make lint   -- set up .venv, ruff check the whole repository (CI runs lint, then test)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
JOBS ?= 1

.PHONY: setup main test test-slow lint bench checks figures

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[test]"
	touch $@

setup: $(VENV)/.installed

main: setup
	$(PY) -m experiments run all --profile $(PROFILE) --jobs $(JOBS)
	$(PY) -m experiments checks

checks: setup
	$(PY) -m experiments checks

figures: setup
	$(PY) -m experiments plot all --profile full

test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .

test-slow: setup
	$(PY) -m pytest -m slow

bench: setup
	$(PY) -m experiments bench all
