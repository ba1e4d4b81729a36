"""Talking to the smart hosts: the SMTP client, TLS, credentials, rate limits, and which host an
attempt goes to with each one's cool-down."""
