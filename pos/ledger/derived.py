"""The tables derived from the journal, recomputed from it and compared row by row.

Sales, their lines and tenders, shifts and cash movements are written in the same transaction as
the journal entry that carries them, and everything a report or the drawer count reads comes from
them. The journal is hash-chained; these tables are not. :func:`check` rebuilds every row they
should hold from the journal's payloads and names the first stored row that differs (a changed
amount, count or link, a row missing or one with no journal entry behind it), so an insider who
edits the file cannot move a figure without ``pos ledger verify`` saying where.

It also checks each ``shift.closed`` entry against the journal itself: the expected cash it
recorded must be what the shift's own entries add up to (a close computed from altered tables
shows here even after the tables are put back).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: Journal event type -> the ``sales.kind`` it writes.
SALE_KINDS = {"sale.completed": "sale", "return.completed": "return", "sale.training": "training"}
CASH_KINDS = {"cash.in": "in", "cash.out": "out"}

SALE_COLUMNS = (
    "id",
    "receipt_seq",
    "receipt_no",
    "kind",
    "shift_id",
    "cashier_id",
    "approved_by",
    "member_id",
    "currency",
    "tax_mode",
    "total",
    "sale_discount",
    "rounding",
    "change",
    "claim_code",
    "original_sale_id",
    "completed_at",
    "journal_seq",
)
LINE_COLUMNS = (
    "line_no",
    "sku",
    "name",
    "unit",
    "quantity_milli",
    "unit_price",
    "discount",
    "total",
    "tax_rate",
    "barcode",
)
TENDER_COLUMNS = ("n", "kind", "amount", "tendered", "reference")
SHIFT_COLUMNS = (
    "id",
    "opened_by",
    "opened_at",
    "opening_float",
    "closed_at",
    "closed_by",
    "approved_by",
    "counted_cash",
    "expected_cash",
)
MOVEMENT_COLUMNS = (
    "id",
    "shift_id",
    "kind",
    "amount",
    "reason",
    "staff_id",
    "approved_by",
    "at",
    "journal_seq",
)


@dataclass(frozen=True)
class Mismatch:
    """The first derived row that differs from the journal: the entry it belongs to, and what."""

    seq: int
    what: str


def _differs(
    table: str, label: str, columns: Sequence[str], stored: Sequence[Any], wanted: Sequence[Any]
) -> str:
    for name, have, want in zip(columns, stored, wanted, strict=True):
        if have != want:
            return f"{table} row {label}: {name} is {have!r} in the table but {want!r} in the journal"
    return ""


def _sale_row(seq: int, kind: str, receipt_seq: int, p: dict[str, Any]) -> tuple[Any, ...]:
    return (
        p.get("sale_id"),
        receipt_seq,
        p.get("receipt_no"),
        kind,
        p.get("shift_id"),
        p.get("cashier_id"),
        p.get("approved_by"),
        p.get("member_id"),
        p.get("currency"),
        p.get("tax_mode"),
        p.get("total"),
        p.get("sale_discount", 0),
        p.get("rounding", 0),
        p.get("change", 0),
        p.get("claim_code"),
        p.get("original_sale_id"),
        p.get("completed_at"),
        seq,
    )


class _Drawer:
    """Expected cash per shift, from the journal alone (see :func:`pos.ledger.shifts.expected_cash`)."""

    def __init__(self) -> None:
        self.cash: dict[str, int] = {}

    def open(self, shift_id: str, opening_float: int) -> None:
        self.cash[shift_id] = opening_float

    def add(self, shift_id: Any, amount: int) -> None:
        if isinstance(shift_id, str) and shift_id in self.cash:
            self.cash[shift_id] += amount


def _cash_tendered(payload: dict[str, Any]) -> int:
    return sum(
        int(t.get("amount", 0))
        for t in payload.get("tenders", [])
        if isinstance(t, dict) and t.get("kind") == "cash" and isinstance(t.get("amount"), int)
    )


def check(conn: sqlite3.Connection) -> Mismatch | None:
    """Rebuild the derived tables from the journal and return the first difference (None: all agree).

    Assumes the journal's own chain was verified first (:func:`pos.ledger.journal.verify`)."""
    receipts = 0
    movements = 0
    shifts: dict[str, tuple[list[Any], int]] = {}  # id -> (expected row, seq that last set it)
    drawer = _Drawer()
    entries = conn.execute(
        "SELECT seq, type, occurred_at, payload FROM journal"
        " WHERE type IN ('sale.completed', 'return.completed', 'sale.training', 'shift.opened',"
        " 'shift.closed', 'cash.in', 'cash.out') ORDER BY seq"
    )
    for seq, type_, occurred_at, payload_text in entries:
        p = json.loads(payload_text)
        if type_ in SALE_KINDS:
            receipts += 1
            kind = SALE_KINDS[type_]
            problem = _check_sale(conn, seq, kind, receipts, p)
            if problem:
                return Mismatch(seq, problem)
            if kind != "training":
                drawer.add(p.get("shift_id"), _cash_tendered(p))
        elif type_ in CASH_KINDS:
            movements += 1
            wanted = (
                p.get("movement_id"),
                p.get("shift_id"),
                CASH_KINDS[type_],
                p.get("amount"),
                p.get("reason"),
                p.get("staff_id"),
                p.get("approved_by"),
                occurred_at,
                seq,
            )
            row = conn.execute(
                f"SELECT {', '.join(MOVEMENT_COLUMNS)} FROM cash_movements WHERE id = ?", (wanted[0],)
            ).fetchone()
            if row is None:
                return Mismatch(seq, f"cash_movements row {wanted[0]} is missing")
            problem = _differs("cash_movements", str(wanted[0]), MOVEMENT_COLUMNS, row, wanted)
            if problem:
                return Mismatch(seq, problem)
            amount = p.get("amount") if isinstance(p.get("amount"), int) else 0
            drawer.add(p.get("shift_id"), amount if type_ == "cash.in" else -amount)
        elif type_ == "shift.opened":
            shift_id = p.get("shift_id")
            shifts[shift_id] = (
                [
                    shift_id,
                    p.get("staff_id"),
                    occurred_at,
                    p.get("opening_float"),
                    None,
                    None,
                    None,
                    None,
                    None,
                ],
                seq,
            )
            if isinstance(shift_id, str) and isinstance(p.get("opening_float"), int):
                drawer.open(shift_id, p["opening_float"])
        else:  # shift.closed
            shift_id = p.get("shift_id")
            if shift_id not in shifts:
                return Mismatch(seq, f"shift {shift_id} is closed but was never opened in the journal")
            row_wanted, _ = shifts[shift_id]
            row_wanted[4:] = [
                occurred_at,
                p.get("staff_id"),
                p.get("approved_by"),
                p.get("counted_cash"),
                p.get("expected_cash"),
            ]
            shifts[shift_id] = (row_wanted, seq)
            own = drawer.cash.get(shift_id)
            if own is not None and own != p.get("expected_cash"):
                return Mismatch(
                    seq,
                    f"shift {shift_id} was closed expecting {p.get('expected_cash')!r} in the drawer,"
                    f" but the journal's own entries for it add up to {own}",
                )
    return _check_counts_and_shifts(conn, receipts, movements, shifts)


def _check_sale(conn: sqlite3.Connection, seq: int, kind: str, receipt_seq: int, p: dict[str, Any]) -> str:
    wanted = _sale_row(seq, kind, receipt_seq, p)
    sale_id = wanted[0]
    label = f"{p.get('receipt_no')} (sale {sale_id})"
    row = conn.execute(f"SELECT {', '.join(SALE_COLUMNS)} FROM sales WHERE id = ?", (sale_id,)).fetchone()
    if row is None:
        return f"sales row {label} is missing"
    problem = _differs("sales", label, SALE_COLUMNS, row, wanted)
    if problem:
        return problem
    lines = p.get("lines", [])
    stored_lines = conn.execute(
        f"SELECT {', '.join(LINE_COLUMNS)}, original_line_no FROM sale_lines WHERE sale_id = ? ORDER BY line_no",
        (sale_id,),
    ).fetchall()
    if len(stored_lines) != len(lines):
        return f"sale_lines of {label}: {len(stored_lines)} rows in the table but {len(lines)} in the journal"
    for stored, line in zip(stored_lines, lines, strict=True):
        want = tuple(line.get(c) for c in LINE_COLUMNS)
        problem = _differs(
            "sale_lines", f"{label} line {line.get('line_no')}", LINE_COLUMNS, stored[:-1], want
        )
        if problem:
            return problem
        problem = _check_original_line(conn, kind, p, label, stored)
        if problem:
            return problem
    tenders = p.get("tenders", [])
    stored_tenders = conn.execute(
        f"SELECT {', '.join(TENDER_COLUMNS)} FROM sale_tenders WHERE sale_id = ? ORDER BY n", (sale_id,)
    ).fetchall()
    if len(stored_tenders) != len(tenders):
        return f"sale_tenders of {label}: {len(stored_tenders)} rows in the table but {len(tenders)} in the journal"
    for n, (stored, tender) in enumerate(zip(stored_tenders, tenders, strict=True), start=1):
        want = (n, tender.get("kind"), tender.get("amount"), tender.get("tendered"), tender.get("reference"))
        problem = _differs("sale_tenders", f"{label} tender {n}", TENDER_COLUMNS, stored, want)
        if problem:
            return problem
    return ""


def _check_original_line(
    conn: sqlite3.Connection, kind: str, p: dict[str, Any], label: str, stored: Sequence[Any]
) -> str:
    """A return line must point at a line of the returned sale selling the same thing, and the
    lines returned against it must not exceed what it sold; a sale line points at nothing."""
    line_no, original_no = stored[0], stored[-1]
    where = f"sale_lines row {label} line {line_no}"
    if kind != "return":
        return "" if original_no is None else f"{where}: original_line_no is {original_no!r} on a {kind}"
    original = conn.execute(
        "SELECT sku, unit, unit_price, tax_rate, quantity_milli FROM sale_lines WHERE sale_id = ? AND line_no = ?",
        (p.get("original_sale_id"), original_no),
    ).fetchone()
    if original is None or tuple(original[:4]) != (stored[1], stored[3], stored[5], stored[8]):
        return f"{where}: original_line_no {original_no!r} is not a line of the returned sale selling the same item"
    (returned,) = conn.execute(
        "SELECT coalesce(-sum(l.quantity_milli), 0) FROM sales s JOIN sale_lines l ON l.sale_id = s.id"
        " WHERE s.kind = 'return' AND s.original_sale_id = ? AND l.original_line_no = ?"
        " AND s.journal_seq <= (SELECT journal_seq FROM sales WHERE id = ?)",
        (p.get("original_sale_id"), original_no, p.get("sale_id")),
    ).fetchone()
    if returned > original[4]:
        return f"{where}: original_line_no {original_no!r} returns more than that line sold"
    return ""


def _check_counts_and_shifts(
    conn: sqlite3.Connection, receipts: int, movements: int, shifts: dict[str, tuple[list[Any], int]]
) -> Mismatch | None:
    extra = conn.execute(
        "SELECT s.id, s.receipt_no, s.journal_seq FROM sales s LEFT JOIN journal j ON j.seq = s.journal_seq"
        " WHERE j.seq IS NULL OR j.type NOT IN ('sale.completed', 'return.completed', 'sale.training')"
        " OR json_extract(j.payload, '$.sale_id') IS NOT s.id ORDER BY s.journal_seq LIMIT 1"
    ).fetchone()
    if extra is not None or int(conn.execute("SELECT count(*) FROM sales").fetchone()[0]) != receipts:
        sale_id, receipt_no, seq = extra if extra is not None else ("?", "?", 0)
        return Mismatch(
            int(seq or 0), f"sales row {receipt_no} (sale {sale_id}) has no journal entry behind it"
        )
    for table in ("sale_lines", "sale_tenders"):
        orphan = conn.execute(
            f"SELECT t.sale_id FROM {table} t LEFT JOIN sales s ON s.id = t.sale_id WHERE s.id IS NULL LIMIT 1"
        ).fetchone()
        if orphan is not None:
            return Mismatch(
                0, f"{table} rows of sale {orphan[0]} have no sale and no journal entry behind them"
            )
    extra = conn.execute(
        "SELECT m.id, m.journal_seq FROM cash_movements m LEFT JOIN journal j ON j.seq = m.journal_seq"
        " WHERE j.seq IS NULL OR j.type NOT IN ('cash.in', 'cash.out')"
        " OR json_extract(j.payload, '$.movement_id') IS NOT m.id ORDER BY m.journal_seq LIMIT 1"
    ).fetchone()
    if (
        extra is not None
        or int(conn.execute("SELECT count(*) FROM cash_movements").fetchone()[0]) != movements
    ):
        movement_id, seq = extra if extra is not None else ("?", 0)
        return Mismatch(int(seq or 0), f"cash_movements row {movement_id} has no journal entry behind it")
    stored = {row[0]: row for row in conn.execute(f"SELECT {', '.join(SHIFT_COLUMNS)} FROM shifts")}
    for shift_id, (wanted, seq) in sorted(shifts.items(), key=lambda item: item[1][1]):
        row = stored.pop(shift_id, None)
        if row is None:
            return Mismatch(seq, f"shifts row {shift_id} is missing")
        problem = _differs("shifts", str(shift_id), SHIFT_COLUMNS, row, wanted)
        if problem:
            return Mismatch(seq, problem)
    if stored:
        shift_id = sorted(stored)[0]
        return Mismatch(0, f"shifts row {shift_id} has no journal entry behind it")
    return None
