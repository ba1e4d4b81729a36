"""`python -m relay ...` is the `relay` command (the supervisor starts its children this way)."""

from relay.cli.main import main

main()
