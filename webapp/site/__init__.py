"""What every page and process of the site shares: its settings, database and extensions, the
signing key, security headers, error pages, the page cache, /healthz, /metrics and `flask check`."""
