# The two commands a fresh machine needs: `make run` and `make test`.
VENV ?= .venv
STAMP := $(VENV)/.installed

$(STAMP): setup.cfg pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

.PHONY: install run test bench
install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/python scripts/run_local.py

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(VENV)/bin/python bench/pickup_vs_smtp.py
