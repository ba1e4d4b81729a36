"""The `relay` command: click wrappers only; each sub-command parses, calls a package, prints."""
