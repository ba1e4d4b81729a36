#!/bin/sh
# The production layout of docs/production.md ("Running the relay in production"), made as root.
# Safe to run again: it creates what is missing and resets the modes.
#   PREFIX      where to build it (default: the real root; the tests use a scratch folder)
#   RELAY_USER  the relay's user and group (default: pickup-relay)
#   SITE_USER   the site's user, put in the relay's group to write pickup (default: www-data)
#   ADMIN_GROUP the group that may use the queue dashboard's window (default: RELAY_USER-admin):
#               the site's user and the relay's, not every writer of pickup (cron jobs)
set -eu
PREFIX=${PREFIX:-}
RELAY_USER=${RELAY_USER:-pickup-relay}
SITE_USER=${SITE_USER:-www-data}
ADMIN_GROUP=${ADMIN_GROUP:-$RELAY_USER-admin}
spool=$PREFIX/var/spool/pickup-relay

id -u "$RELAY_USER" >/dev/null 2>&1 || useradd --system --user-group --no-create-home \
    --home-dir /var/spool/pickup-relay --shell /usr/sbin/nologin "$RELAY_USER"
getent group "$ADMIN_GROUP" >/dev/null || groupadd --system "$ADMIN_GROUP"
usermod -a -G "$ADMIN_GROUP" "$RELAY_USER"
if id -u "$SITE_USER" >/dev/null 2>&1; then
    usermod -a -G "$RELAY_USER,$ADMIN_GROUP" "$SITE_USER"
else
    echo "note: no user $SITE_USER yet; later: usermod -a -G $RELAY_USER,$ADMIN_GROUP $SITE_USER" >&2
fi
# config.toml is read by both sides; secrets in it are only file names (password_file)
install -d -o root -g "$RELAY_USER" -m 0750 "$PREFIX/etc/pickup-relay"
# the group may pass through to pickup, not list the spool
install -d -o "$RELAY_USER" -g "$RELAY_USER" -m 0710 "$spool"
# setgid: every file gets the relay's group; sticky: no writer removes or replaces another's
install -d -o "$RELAY_USER" -g "$RELAY_USER" -m 3770 "$spool/pickup"
# the queue is the relay's alone: it holds every pending password-reset link
install -d -o "$RELAY_USER" -g "$RELAY_USER" -m 0700 "$spool/queue"
# the queue dashboard's window ([relay] admin_dir), for ADMIN_GROUP only: it passes through to
# status.json and results/ (files 0640, setgid: in that group) without listing them;
# requests/ takes its files (setgid; sticky: no writer removes or replaces another's)
install -d -o "$RELAY_USER" -g "$ADMIN_GROUP" -m 2710 "$spool/admin" "$spool/admin/results"
install -d -o "$RELAY_USER" -g "$ADMIN_GROUP" -m 3730 "$spool/admin/requests"
# mail coming back ([inbound] dir): `relay receive` writes each message 0640; the site's
# inbound-worker (in the group) renames, reads and removes them; setgid keeps the relay's group
# on what the site makes there (its processing/ and badmail/), so `relay status` counts them
install -d -o "$RELAY_USER" -g "$RELAY_USER" -m 2770 "$spool/drop"
install -d -o "$RELAY_USER" -g "$RELAY_USER" -m 0750 "$PREFIX/var/log/pickup-relay"
# the site's own state: its SQLite database and its signing key, private to the site's user
if id -u "$SITE_USER" >/dev/null 2>&1; then
    install -d -o "$SITE_USER" -g "$SITE_USER" -m 0700 "$PREFIX/var/lib/pickup-relay-site"
fi
