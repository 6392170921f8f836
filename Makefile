# The README's two commands: `make run` and `make test`. Both create .venv on first use.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: setup run test test-fast shell check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(VENV)/bin/contract-desk --demo

test: setup
	VENV=$(VENV) scripts/test

# The quick local loop: no PostgreSQL, tray or notification tests, nothing installed.
test-fast: setup
	VENV=$(VENV) scripts/test --fast

# A shell with .venv active, so contract-desk, contracts and contract-server are on PATH.
shell: setup
	@echo "Contract Desk shell: .venv is active (exit to leave)"
	@VIRTUAL_ENV="$(abspath $(VENV))" PATH="$(abspath $(VENV))/bin:$$PATH" $${SHELL:-/bin/sh} -i

check: setup
	VENV=$(VENV) scripts/check

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
