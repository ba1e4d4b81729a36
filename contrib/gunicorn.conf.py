# gunicorn settings for the site (contrib/pickup-relay-site.service runs
# `gunicorn -c contrib/gunicorn.conf.py 'webapp:create_app()'`). Read "Running the site in
# production" in docs/production.md. Environment variables override the defaults below.
import multiprocessing
import os

# nginx in front talks to this address (contrib/nginx.conf): loopback or a unix socket, never
# one others reach (they would pick the X-Forwarded-For the site believes); `flask check` warns.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# The site's requests are short and CPU-bound (templates, SQLite or PostgreSQL round trips):
# two sync workers per CPU keep the CPUs busy while one waits on the database.
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
worker_class = "sync"
# A request that takes 30 s is stuck; the master replaces its worker. Posting never waits for
# mail (it is a file in pickup), so nothing legitimate comes close.
timeout = 30
graceful_timeout = 30      # SIGTERM/SIGHUP: workers finish their requests first
keepalive = 5              # nginx keeps connections to us open between requests
max_requests = 10000       # recycle workers now and then: memory stays flat
max_requests_jitter = 1000
# SIGHUP: new workers with the new code and config, old ones finish their requests (the
# unit's ExecReload); nothing preloaded, so the reload really reloads.
preload_app = False
# One line per request on stderr (the journal), with tokens in link paths replaced by [token].
accesslog = "-"
errorlog = "-"
logger_class = "webapp.site.access_log.RedactingLogger"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(f)s" "%(a)s"'
# The site's X-Forwarded-* come from nginx on this machine; [webapp] trusted_proxies says
# how many hops the site believes (ProxyFix). From nginx gunicorn believes only what nginx
# really sends: the scheme in X-Forwarded-Proto, and no SCRIPT_NAME or PATH_INFO header (any
# process on this host could otherwise move every link of the pages it is answered).
forwarded_allow_ips = "127.0.0.1"
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
forwarder_headers = ""
proc_name = "pickup-relay-site"
