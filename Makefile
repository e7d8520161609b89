# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint types imports unit bench package clean browser

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/outreach demo --summary-json demo-summary.json

test: $(STAMP) lint types imports browser unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

types: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest

# The HTML report test renders in Debian's headless chromium: install it when missing (needs root).
browser:
	bash scripts/ensure-chromium.sh

bench: $(STAMP)
	$(BIN)/python -m bench.run

# The Lambda zip (our code + what the runtime lacks; boto3 not bundled) in dist/, with a size report.
package: $(STAMP)
	$(BIN)/python scripts/package_lambda.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache demo-summary.json
