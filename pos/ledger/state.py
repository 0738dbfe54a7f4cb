"""Store settings and sync state kept in the ledger.

Settings are a key/value table of JSON values (currency, locale, tax mode, discount limit, cash
rounding, scan prefixes, store code and name); the change feed's ``store`` changes land here.
Sync state is one row: the highest journal sequence the server acknowledged (and its hash), the
change-feed cursor, and when the last sync succeeded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils


def get_settings(db: sqlite_utils.Database) -> dict[str, Any]:
    """Every stored setting, decoded."""
    return {str(k): json.loads(v) for k, v in db.execute("SELECT key, value FROM settings")}


def put_settings(db: sqlite_utils.Database, values: dict[str, Any]) -> None:
    """Store ``values`` (JSON-encodable), replacing the same keys."""
    db.conn.executemany(
        "INSERT INTO settings (key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [(k, json.dumps(v, sort_keys=True)) for k, v in values.items()],
    )


@dataclass(frozen=True)
class SyncState:
    acked_seq: int
    acked_hash: str | None
    feed_cursor: str | None
    last_sync_at: str | None
    last_error: str | None


def sync_state(db: sqlite_utils.Database) -> SyncState:
    row = db.execute(
        "SELECT acked_seq, acked_hash, feed_cursor, last_sync_at, last_error FROM sync_state WHERE id = 1"
    ).fetchone()
    return SyncState(int(row[0]), row[1], row[2], row[3], row[4])


class AckError(ValueError):
    """The server acknowledged something the journal does not hold: refuse rather than skip events."""


def acknowledge(db: sqlite_utils.Database, seq: int, now: str) -> None:
    """Record that the server holds every entry up to ``seq`` (never moves back)."""
    row = db.execute("SELECT hash FROM journal WHERE seq = ?", (seq,)).fetchone()
    if seq != 0 and row is None:
        raise AckError(f"the server acknowledged seq {seq}, which this journal does not hold")
    db.execute(
        "UPDATE sync_state SET acked_seq = ?, acked_hash = ?, last_sync_at = ?, last_error = NULL"
        " WHERE id = 1 AND acked_seq <= ?",
        (seq, row[0] if row else None, now, seq),
    )


def set_feed_cursor(db: sqlite_utils.Database, cursor: str | None, now: str) -> None:
    db.execute(
        "UPDATE sync_state SET feed_cursor = ?, last_sync_at = ?, last_error = NULL WHERE id = 1",
        (cursor, now),
    )


def record_sync_error(db: sqlite_utils.Database, message: str) -> None:
    db.execute("UPDATE sync_state SET last_error = ? WHERE id = 1", (message[:500],))


def queued_events(db: sqlite_utils.Database) -> int:
    """Journal entries the server has not acknowledged yet."""
    row = db.execute(
        "SELECT (SELECT seq FROM journal_head WHERE id = 1) - (SELECT acked_seq FROM sync_state WHERE id = 1)"
    ).fetchone()
    return max(0, int(row[0]))
