# The two commands a fresh machine needs: `make run` and `make test`.
VENV ?= .venv
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
# Debian packages of the real programs some tests drive: Chromium (playwright never downloads
# a browser), PostgreSQL's server binaries and redis-server (tests start their own throwaway
# servers), and nginx (the proxy config in contrib/ is tested in front of gunicorn).

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip

# What the site, the relay and the sink need to run, and nothing else.
$(RUN_STAMP): setup.cfg pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet -e .
	touch $@

# The same, plus the test tools (pytest, ruff, playwright, psycopg, trustme).
$(TEST_STAMP): setup.cfg pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@ $(RUN_STAMP)

.PHONY: install install-production run test bench test-services create-admin
install: $(RUN_STAMP)

# A production host: the same plus gunicorn and the Redis and PostgreSQL clients.
install-production: | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet -e '.[production]'

# As root, installs the missing ones, without recommended packages and without upgrading
# anything already installed, and without starting their system services (policy-rc.d: the
# tests start their own); otherwise those tests are skipped with a reason.
test-services:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v nginx >/dev/null 2>&1 || missing="$$missing nginx-light"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "test-services: $$missing missing (not root): the tests that need them will be skipped"; exit 0; fi; \
	echo "test-services: installing$$missing from Debian (no recommends, no upgrades) for the tests that drive them"; \
	guard=""; if [ ! -e /usr/sbin/policy-rc.d ]; then guard=/usr/sbin/policy-rc.d; \
		printf '#!/bin/sh\nexit 101\n' > $$guard; chmod 755 $$guard; fi; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends --no-upgrade $$missing >/dev/null; status=$$?; \
	[ -z "$$guard" ] || rm -f $$guard; exit $$status

# PORT, SMTP_PORT and WEB_PORT move the site, the local sink (and the relay's smart host with
# it) and the sink's web inbox (WEB_PORT=0: no inbox).
run: $(RUN_STAMP)
	$(VENV)/bin/python scripts/run_local.py $(if $(PORT),--port $(PORT)) $(if $(SMTP_PORT),--smtp-port $(SMTP_PORT)) $(if $(WEB_PORT),--web-port $(WEB_PORT))

create-admin: $(RUN_STAMP)
	$(VENV)/bin/flask --app webapp create-admin

test: $(TEST_STAMP) test-services
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -n 2 --dist loadfile

# relay_throughput: 5,000 messages on tmpfs, each case unsigned and signed; as root it runs
# the Postfix + OpenDKIM anchor too (and installs opendkim when missing), else skips it.
bench: $(TEST_STAMP)
	$(VENV)/bin/python bench/pickup_vs_smtp.py
	$(VENV)/bin/python bench/relay_throughput.py -n 5000 --dir /dev/shm --dkim
	$(VENV)/bin/python bench/site_pages.py
	$(VENV)/bin/python bench/post_latency.py
	$(VENV)/bin/python bench/broadcast.py
	$(VENV)/bin/python bench/site_load.py
