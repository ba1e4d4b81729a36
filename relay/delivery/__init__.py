"""Delivery: one attempt at a claimed message, what becomes of it (the fate), and what it owes
others afterwards: DKIM signing before, feedback lines and delivery reports after."""
