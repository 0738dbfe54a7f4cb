"""Staff records and the terminal's PIN lockout, as stored in the ledger.

PIN hashing (Argon2id) happens in :mod:`pos.services.staff`; this module only stores hashes and the
record of PIN attempts. The lockout is terminal-wide because a cashier signs in by PIN alone: wrong
PINs cannot be pinned on one person, so after too many the terminal stops taking PINs for a while.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils


@dataclass(frozen=True)
class StaffMember:
    id: str
    name: str
    role: str
    pin_hash: str
    active: bool


def _member(row: tuple[object, ...]) -> StaffMember:
    return StaffMember(
        id=str(row[0]), name=str(row[1]), role=str(row[2]), pin_hash=str(row[3]), active=bool(row[4])
    )


def upsert(
    db: sqlite_utils.Database, *, id: str, name: str, role: str, pin_hash: str, active: bool, now: str
) -> None:
    """Insert or replace one staff member (local `pos staff add` and the change feed)."""
    db.execute(
        "INSERT INTO staff (id, name, role, pin_hash, active, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET name = excluded.name, role = excluded.role,"
        " pin_hash = excluded.pin_hash, active = excluded.active, updated_at = excluded.updated_at",
        (id, name, role, pin_hash, int(active), now),
    )


def deactivate(db: sqlite_utils.Database, staff_id: str, now: str) -> None:
    db.execute("UPDATE staff SET active = 0, updated_at = ? WHERE id = ?", (now, staff_id))


def active_staff(db: sqlite_utils.Database) -> list[StaffMember]:
    """Every active staff member, in a stable order."""
    rows = db.execute(
        "SELECT id, name, role, pin_hash, active FROM staff WHERE active ORDER BY id"
    ).fetchall()
    return [_member(r) for r in rows]


def get(db: sqlite_utils.Database, staff_id: str) -> StaffMember | None:
    row = db.execute(
        "SELECT id, name, role, pin_hash, active FROM staff WHERE id = ?", (staff_id,)
    ).fetchone()
    return _member(row) if row else None


def count(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT count(*) FROM staff").fetchone()[0])


def locked_until(db: sqlite_utils.Database, now: datetime) -> datetime | None:
    """When the PIN lockout ends, or None if PINs are taken now."""
    row = db.execute("SELECT locked_until FROM pin_lockout WHERE id = 1").fetchone()
    if row is None or row[0] is None:
        return None
    until = datetime.fromisoformat(str(row[0]))
    return until if until > now else None


def record_attempt(
    db: sqlite_utils.Database,
    *,
    ok: bool,
    purpose: str,
    staff_id: str | None,
    now: datetime,
    max_failures: int,
    lock_for: timedelta,
) -> datetime | None:
    """Record one PIN attempt; return the lockout end if this attempt started a lockout.

    A right PIN resets the count of wrong ones; the ``max_failures``-th wrong PIN in a row locks
    PIN entry until ``now + lock_for``.
    """
    lock: datetime | None = None
    if ok:
        db.execute("UPDATE pin_lockout SET failed = 0, locked_until = NULL WHERE id = 1")
    else:
        failed = int(db.execute("SELECT failed FROM pin_lockout WHERE id = 1").fetchone()[0]) + 1
        if failed >= max_failures:
            lock = now + lock_for
            db.execute(
                "UPDATE pin_lockout SET failed = 0, locked_until = ? WHERE id = 1", (lock.isoformat(),)
            )
        else:
            db.execute("UPDATE pin_lockout SET failed = ? WHERE id = 1", (failed,))
    db.execute(
        "INSERT INTO pin_attempts (at, purpose, staff_id, ok, locked_until) VALUES (?, ?, ?, ?, ?)",
        (now.isoformat(), purpose, staff_id, int(ok), lock.isoformat() if lock else None),
    )
    return lock
