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
# EXECUTOR=dask (or processes) runs the cases on WORKERS worker processes (README: "Running on
# many cores or a cluster"); without it, JOBS > 1 means processes with JOBS workers.
EXECUTOR ?=
WORKERS ?= 2

.PHONY: setup main test test-slow lint bench checks figures

# setuptools prints an informational BuildBackendWarning for every editable install (in all three
# editable modes); it is not about this package, so the install silences UserWarnings.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@echo "installing the project and its dependencies into $(VENV) (about a minute) ..."
	PYTHONWARNINGS="ignore::UserWarning" $(PY) -m pip install --progress-bar off -c constraints.txt -e ".[test,dask]"
	touch $@

setup: $(VENV)/.installed

# `make main` leaves the checkout clean: quick results, figures and the quick report all go to
# results/quick/ and figures/quick/ (git-ignored). The committed paper_checks.md is regenerated
# only by `make checks`, from the committed full-profile results. PROFILE=full replaces committed
# evidence only with OVERWRITE=1.
main: setup
	$(PY) -m experiments run all --profile $(PROFILE) $(if $(EXECUTOR),--executor $(EXECUTOR) --workers $(WORKERS),--jobs $(JOBS)) $(if $(OVERWRITE),--overwrite-evidence,)
	@# the HTML report is written even when a check fails; make still exits with checks' status
	@status=0; \
	echo '$(PY) -m experiments checks --profile best --output results/quick/paper_checks.md'; \
	$(PY) -m experiments checks --profile best --output results/quick/paper_checks.md || status=$$?; \
	echo '$(PY) -m experiments report --profile best --output results/quick/report.html'; \
	$(PY) -m experiments report --profile best --output results/quick/report.html || exit $$?; \
	echo "outputs: results/quick/*.json, figures/quick/*.png, results/quick/paper_checks.md;" \
	     "open the report: results/quick/report.html"; \
	exit $$status

checks: setup
	$(PY) -m experiments checks --profile full

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
