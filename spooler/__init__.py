"""The site's side of the pickup contract: build messages, write them atomically to pickup."""
