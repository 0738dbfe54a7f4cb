"""Shifts and the cash movements within them.

At most one shift is open on a terminal at a time (a partial unique index enforces it). Expected
cash in the drawer = opening float + cash taken in sales (after change) - cash paid out on returns
+ cash in - cash out during the shift.
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
    """What should be in the drawer for ``shift_id`` now (see the module docstring)."""
    row = db.execute(
        "SELECT s.opening_float"
        " + coalesce((SELECT sum(t.amount) FROM sale_tenders t JOIN sales x ON x.id = t.sale_id"
        "   WHERE x.shift_id = s.id AND t.kind = 'cash' AND x.kind IN ('sale', 'return')), 0)"
        " + coalesce((SELECT sum(amount) FROM cash_movements WHERE shift_id = s.id AND kind = 'in'), 0)"
        " - coalesce((SELECT sum(amount) FROM cash_movements WHERE shift_id = s.id AND kind = 'out'), 0)"
        " FROM shifts s WHERE s.id = ?",
        (shift_id,),
    ).fetchone()
    return int(row[0]) if row else 0
