#!/bin/sh
# /usr/bin/pos: the Storelink POS till installed by the Debian package (bundle in /opt/storelink-pos).
# One data directory per machine, shared by the till's desktop user(s) through the group
# storelink-pos; secrets in that directory (mode 0600) rather than a per-user keyring, so a kiosk
# user's till works without a desktop keyring. Set POS_DATA_DIR or STORELINK_SECRETS to override.
: "${POS_DATA_DIR:=/var/lib/storelink-pos}"
: "${STORELINK_SECRETS:=file}"
export POS_DATA_DIR STORELINK_SECRETS
# Files the till makes are the group's too (ledger, WAL, backups); secrets.json stays 0600.
umask 007
if [ -d "$POS_DATA_DIR" ] && [ ! -w "$POS_DATA_DIR" ]; then
    echo "pos: $POS_DATA_DIR is not writable by $(id -un): add this user to the group storelink-pos" \
         "(sudo adduser $(id -un) storelink-pos) and log in again." >&2
fi
exec /opt/storelink-pos/pos "$@"
