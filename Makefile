# The two commands a fresh machine needs: `make run` and `make test`.
VENV ?= .venv
STAMP := $(VENV)/.installed

$(STAMP): setup.cfg pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

.PHONY: install run test bench browser
install: $(STAMP)

# The browser tests drive Debian's Chromium (playwright never downloads one); as root this
# installs it, otherwise those tests are skipped with a reason.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium is not installed: the browser tests will be skipped"

run: $(STAMP)
	$(VENV)/bin/python scripts/run_local.py

test: $(STAMP) browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(VENV)/bin/python bench/pickup_vs_smtp.py
