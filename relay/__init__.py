"""The relay: watch pickup, queue, deliver to the smart host, retry, badmail; and its admin CLI."""
