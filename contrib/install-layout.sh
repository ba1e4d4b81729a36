#!/bin/sh
# The production layout of README.md ("Running the relay in production"), made as root.
# Safe to run again: it creates what is missing and resets the modes.
#   PREFIX      where to build it (default: the real root; the tests use a scratch folder)
#   RELAY_USER  the relay's user and group (default: pickup-relay)
#   SITE_USER   the site's user, put in the relay's group to write pickup (default: www-data)
set -eu
PREFIX=${PREFIX:-}
RELAY_USER=${RELAY_USER:-pickup-relay}
SITE_USER=${SITE_USER:-www-data}
spool=$PREFIX/var/spool/pickup-relay

id -u "$RELAY_USER" >/dev/null 2>&1 || useradd --system --user-group --no-create-home \
    --home-dir /var/spool/pickup-relay --shell /usr/sbin/nologin "$RELAY_USER"
if id -u "$SITE_USER" >/dev/null 2>&1; then
    usermod -a -G "$RELAY_USER" "$SITE_USER"
else
    echo "note: no user $SITE_USER yet; later: usermod -a -G $RELAY_USER $SITE_USER" >&2
fi
# config.toml is read by both sides; secrets in it are only file names (password_file)
install -d -o root -g "$RELAY_USER" -m 0750 "$PREFIX/etc/pickup-relay"
# the group may pass through to pickup, not list the spool
install -d -o "$RELAY_USER" -g "$RELAY_USER" -m 0710 "$spool"
# setgid: every file gets the relay's group; sticky: no writer removes or replaces another's
install -d -o "$RELAY_USER" -g "$RELAY_USER" -m 3770 "$spool/pickup"
# the queue is the relay's alone: it holds every pending password-reset link
install -d -o "$RELAY_USER" -g "$RELAY_USER" -m 0700 "$spool/queue"
install -d -o "$RELAY_USER" -g "$RELAY_USER" -m 0750 "$PREFIX/var/log/pickup-relay"
# the site's own state: its SQLite database and its signing key, private to the site's user
if id -u "$SITE_USER" >/dev/null 2>&1; then
    install -d -o "$SITE_USER" -g "$SITE_USER" -m 0700 "$PREFIX/var/lib/pickup-relay-site"
fi
