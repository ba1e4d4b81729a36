"""What every page and process of the site shares: settings, database, extensions, signing
key, links and outgoing mail, headers, error pages, page cache, /healthz, /metrics, checks."""
