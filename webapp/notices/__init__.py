"""Notifications on the site: the rows the fan-out writes, the bell's count, the
Notifications page, and marking them read."""
