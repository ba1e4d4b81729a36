"""The development sink: a catch-all SMTP server storing a Maildir, and its web inbox."""
