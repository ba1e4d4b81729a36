# The two commands a fresh machine needs: `make run` and `make test`.
VENV ?= .venv
STAMP := $(VENV)/.installed

$(STAMP): setup.cfg pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

.PHONY: install run test bench test-services
install: $(STAMP)

# Real programs some tests drive: Debian's Chromium (playwright never downloads a browser)
# and PostgreSQL's server binaries (a test starts its own throwaway cluster). As root this
# installs what is missing; otherwise those tests are skipped with a reason.
test-services:
	@command -v chromium >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium postgresql >/dev/null; } || \
		echo "chromium or postgresql missing: the browser and PostgreSQL tests will be skipped"

run: $(STAMP)
	$(VENV)/bin/python scripts/run_local.py

test: $(STAMP) test-services
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(VENV)/bin/python bench/pickup_vs_smtp.py
