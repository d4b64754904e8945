# HPD workbench. `make report` and `make test` are all a new user needs: both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
KERNEL := hpd-workbench
COHORT ?= data/example
OUT    ?= reports
ARGS   ?=

.PHONY: setup report test lint lab kernel bench example clean strip hooks

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,lab]'
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "HPD workbench (.venv)" >/dev/null
	touch $(STAMP)

# COHORT: a cohort folder, or a bundled data set name (oak-laleh, laleh2022-study1..5, pharmaverse,
# pharmaverse-recist, tumgr, inspire; oak/poplar need HPD_OAK_POPLAR_DIR) written to cohorts/NAME
# first. ARGS: extra options, e.g. ARGS="--set group_by=treatment".
report: $(STAMP)
	cohort=$$($(BIN)/python -m hpd_analysis.datasets $(COHORT)) && \
	$(BIN)/hpd report --cohort "$$cohort" --out $(OUT) $(ARGS)

# the suite on every core (pytest-xdist), one test file per worker at a time: the tests that share
# a report run live in one file (tests/conftest.py)
test: lint
	$(BIN)/python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder

# ruff (lint and formatting) and mypy on the whole package (no module exempt)
lint: $(STAMP)
	$(BIN)/ruff check hpd_analysis tests benchmarks
	$(BIN)/ruff format --check hpd_analysis tests benchmarks
	$(BIN)/mypy

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

# Register the project kernel for this user, so that any JupyterLab (not only .venv's) finds it.
kernel: $(STAMP)
	$(BIN)/python -m ipykernel install --user --name $(KERNEL) --display-name "HPD workbench (.venv)"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# Regenerate the bundled example cohort (deterministic: seed 2021, 500 patients).
# The package holds a gzip-compressed copy (hpd_analysis/data/example) for wheel installs.
example: $(STAMP)
	$(BIN)/hpd simulate --patients 500 --seed 2021 --out data/example
	for t in patients lesions; do gzip -n -9 -c data/example/$$t.csv > hpd_analysis/data/example/$$t.csv.gz; done

# Contributors: run the checks of .pre-commit-config.yaml before each commit and strip notebook
# outputs through git's nbstripout filter (declared in .gitattributes).
hooks: $(STAMP)
	$(BIN)/pre-commit install
	$(BIN)/nbstripout --install

# Strip outputs from every notebook before committing.
strip: $(STAMP)
	$(BIN)/nbstripout notebooks/*.ipynb

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache .hypothesis build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
