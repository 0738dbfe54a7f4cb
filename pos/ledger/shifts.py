"""Shifts and the cash movements within them.

At most one shift is open on a terminal at a time (a partial unique index enforces it). Expected
cash in the drawer = opening float + cash taken in sales (after change) - cash paid out on returns
+ cash in - cash out during the shift, read from the journal (see :func:`expected_cash`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlite_utils


@dataclass(frozen=True)
class Shift:
    id: str
    opened_by: str
    opened_at: str
    opening_float: int
    closed_at: str | None
    counted_cash: int | None
    expected_cash: int | None


def _shift(row: tuple[Any, ...]) -> Shift:
    return Shift(str(row[0]), str(row[1]), str(row[2]), int(row[3]), row[4], row[5], row[6])


_COLUMNS = "id, opened_by, opened_at, opening_float, closed_at, counted_cash, expected_cash"


def open_shift(
    db: sqlite_utils.Database, *, shift_id: str, opened_by: str, opened_at: str, opening_float: int
) -> None:
    db.execute(
        "INSERT INTO shifts (id, opened_by, opened_at, opening_float) VALUES (?, ?, ?, ?)",
        (shift_id, opened_by, opened_at, opening_float),
    )


def current(db: sqlite_utils.Database) -> Shift | None:
    """The open shift, or None."""
    row = db.execute(f"SELECT {_COLUMNS} FROM shifts WHERE closed_at IS NULL").fetchone()
    return _shift(row) if row else None


def get(db: sqlite_utils.Database, shift_id: str) -> Shift | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM shifts WHERE id = ?", (shift_id,)).fetchone()
    return _shift(row) if row else None


def close_shift(
    db: sqlite_utils.Database,
    *,
    shift_id: str,
    closed_at: str,
    closed_by: str,
    approved_by: str | None,
    counted_cash: int,
    expected_cash: int,
) -> None:
    db.execute(
        "UPDATE shifts SET closed_at = ?, closed_by = ?, approved_by = ?, counted_cash = ?, expected_cash = ?"
        " WHERE id = ? AND closed_at IS NULL",
        (closed_at, closed_by, approved_by, counted_cash, expected_cash, shift_id),
    )


def add_cash_movement(
    db: sqlite_utils.Database,
    *,
    movement_id: str,
    shift_id: str,
    kind: str,
    amount: int,
    reason: str,
    staff_id: str,
    approved_by: str | None,
    at: str,
    journal_seq: int,
) -> None:
    db.execute(
        "INSERT INTO cash_movements (id, shift_id, kind, amount, reason, staff_id, approved_by, at, journal_seq)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (movement_id, shift_id, kind, amount, reason, staff_id, approved_by, at, journal_seq),
    )


def expected_cash(db: sqlite_utils.Database, shift_id: str) -> int:
    """What should be in the drawer for ``shift_id`` now (see the module docstring).

    Read from the journal itself (hash-chained, checked by ``pos ledger verify``), never from the
    derived tables an insider could edit: the shift's ``shift.opened`` entry and the sales, returns
    and cash movements journaled after it for this shift."""
    opened = db.execute(
        "SELECT seq, json_extract(payload, '$.opening_float') FROM journal"
        " WHERE type = 'shift.opened' AND json_extract(payload, '$.shift_id') = ? ORDER BY seq DESC LIMIT 1",
        (shift_id,),
    ).fetchone()
    if opened is None:
        return 0
    after, opening_float = int(opened[0]), int(opened[1])
    (cash,) = db.execute(
        "SELECT coalesce(sum(json_extract(t.value, '$.amount')), 0)"
        " FROM journal j, json_each(j.payload, '$.tenders') t"
        " WHERE j.seq > ? AND j.type IN ('sale.completed', 'return.completed')"
        " AND json_extract(j.payload, '$.shift_id') = ? AND json_extract(t.value, '$.kind') = 'cash'",
        (after, shift_id),
    ).fetchone()
    (moved,) = db.execute(
        "SELECT coalesce(sum(CASE type WHEN 'cash.in' THEN 1 ELSE -1 END"
        " * json_extract(payload, '$.amount')), 0) FROM journal"
        " WHERE seq > ? AND type IN ('cash.in', 'cash.out') AND json_extract(payload, '$.shift_id') = ?",
        (after, shift_id),
    ).fetchone()
    return opening_float + int(cash) + int(moved)
