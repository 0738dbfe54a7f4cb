"""Completed sales, returns and training sales with their lines and tenders; the sale-in-progress marker.

A sale row always points at the journal entry that carries it (``journal_seq``); both are written
in the same transaction by :func:`record_sale`, so a sale exists exactly when its event does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlite_utils


@dataclass(frozen=True)
class SaleRecord:
    """A stored sale (or return / training sale) without its lines."""

    id: str
    receipt_no: str
    kind: str
    total: int
    currency: str
    claim_code: str | None
    completed_at: str
    journal_seq: int
    cashier_id: str | None
    member_id: int | None
    original_sale_id: str | None


_SALE_COLUMNS = (
    "id, receipt_no, kind, total, currency, claim_code, completed_at, journal_seq,"
    " cashier_id, member_id, original_sale_id"
)


def _record(row: tuple[Any, ...]) -> SaleRecord:
    return SaleRecord(
        id=str(row[0]),
        receipt_no=str(row[1]),
        kind=str(row[2]),
        total=int(row[3]),
        currency=str(row[4]),
        claim_code=row[5],
        completed_at=str(row[6]),
        journal_seq=int(row[7]),
        cashier_id=row[8],
        member_id=row[9],
        original_sale_id=row[10],
    )


def next_receipt_seq(db: sqlite_utils.Database) -> int:
    """The next receipt counter value on this terminal (call inside the writing transaction)."""
    return int(db.execute("SELECT coalesce(max(receipt_seq), 0) + 1 FROM sales").fetchone()[0])


def record_sale(
    db: sqlite_utils.Database,
    payload: dict[str, Any],
    *,
    kind: str,
    receipt_seq: int,
    journal_seq: int,
    original_line_nos: list[int] | None = None,
) -> None:
    """Write the sale row, its lines and tenders from a :class:`sync.protocol.SalePayload` dict.

    For a return, ``original_line_nos[i]`` is the line of the original sale that line ``i`` returns.
    """
    db.execute(
        "INSERT INTO sales (id, receipt_seq, receipt_no, kind, shift_id, cashier_id, approved_by, member_id,"
        " currency, tax_mode, total, sale_discount, rounding, change, claim_code, original_sale_id,"
        " completed_at, journal_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            payload["sale_id"],
            receipt_seq,
            payload["receipt_no"],
            kind,
            payload.get("shift_id"),
            payload.get("cashier_id"),
            payload.get("approved_by"),
            payload.get("member_id"),
            payload["currency"],
            payload["tax_mode"],
            payload["total"],
            payload.get("sale_discount", 0),
            payload.get("rounding", 0),
            payload.get("change", 0),
            payload.get("claim_code"),
            payload.get("original_sale_id"),
            payload["completed_at"],
            journal_seq,
        ),
    )
    db.conn.executemany(
        "INSERT INTO sale_lines (sale_id, line_no, sku, name, unit, quantity_milli, unit_price, discount,"
        " total, tax_rate, barcode, original_line_no) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                payload["sale_id"],
                line["line_no"],
                line["sku"],
                line["name"],
                line["unit"],
                line["quantity_milli"],
                line["unit_price"],
                line["discount"],
                line["total"],
                line["tax_rate"],
                line.get("barcode"),
                original_line_nos[i] if original_line_nos else None,
            )
            for i, line in enumerate(payload["lines"])
        ],
    )
    db.conn.executemany(
        "INSERT INTO sale_tenders (sale_id, n, kind, amount, tendered, reference) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (payload["sale_id"], n, t["kind"], t["amount"], t.get("tendered"), t.get("reference"))
            for n, t in enumerate(payload["tenders"], start=1)
        ],
    )


def get(db: sqlite_utils.Database, sale_id: str) -> SaleRecord | None:
    row = db.execute(f"SELECT {_SALE_COLUMNS} FROM sales WHERE id = ?", (sale_id,)).fetchone()
    return _record(row) if row else None


def by_receipt_no(db: sqlite_utils.Database, receipt_no: str) -> SaleRecord | None:
    row = db.execute(f"SELECT {_SALE_COLUMNS} FROM sales WHERE receipt_no = ?", (receipt_no,)).fetchone()
    return _record(row) if row else None


def by_claim_code(db: sqlite_utils.Database, claim_code: str) -> SaleRecord | None:
    row = db.execute(f"SELECT {_SALE_COLUMNS} FROM sales WHERE claim_code = ?", (claim_code,)).fetchone()
    return _record(row) if row else None


def last(
    db: sqlite_utils.Database, kinds: tuple[str, ...] = ("sale", "return", "training")
) -> SaleRecord | None:
    """The most recently completed sale of one of ``kinds``, or None."""
    marks = ",".join("?" for _ in kinds)
    row = db.execute(
        f"SELECT {_SALE_COLUMNS} FROM sales WHERE kind IN ({marks}) ORDER BY receipt_seq DESC LIMIT 1", kinds
    ).fetchone()
    return _record(row) if row else None


def count(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT count(*) FROM sales").fetchone()[0])


def payload_of(db: sqlite_utils.Database, sale_id: str) -> dict[str, Any] | None:
    """The journal payload that carries this sale (the receipt's source of truth)."""
    row = db.execute(
        "SELECT j.payload FROM sales s JOIN journal j ON j.seq = s.journal_seq WHERE s.id = ?", (sale_id,)
    ).fetchone()
    if row is None:
        return None
    import json

    value: dict[str, Any] = json.loads(row[0])
    return value


def returned_quantities(db: sqlite_utils.Database, original_sale_id: str) -> dict[int, int]:
    """Original line number -> thousandths already returned against ``original_sale_id`` (positive)."""
    rows = db.execute(
        "SELECT l.original_line_no, -sum(l.quantity_milli) FROM sales s JOIN sale_lines l ON l.sale_id = s.id"
        " WHERE s.original_sale_id = ? AND s.kind = 'return' GROUP BY l.original_line_no",
        (original_sale_id,),
    ).fetchall()
    return {int(n): int(q) for n, q in rows if n is not None}


# --- the sale-in-progress marker -------------------------------------------------------------


@dataclass(frozen=True)
class InProgress:
    sale_id: str
    started_at: str
    cashier_id: str | None
    total: int


def mark_in_progress(
    db: sqlite_utils.Database, *, sale_id: str, started_at: str, cashier_id: str | None, total: int
) -> None:
    """Note that payment of ``sale_id`` has begun (replaces any earlier marker)."""
    db.execute(
        "INSERT INTO sale_in_progress (id, sale_id, started_at, cashier_id, total) VALUES (1, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET sale_id = excluded.sale_id, started_at = excluded.started_at,"
        " cashier_id = excluded.cashier_id, total = excluded.total",
        (sale_id, started_at, cashier_id, total),
    )


def in_progress(db: sqlite_utils.Database) -> InProgress | None:
    row = db.execute(
        "SELECT sale_id, started_at, cashier_id, total FROM sale_in_progress WHERE id = 1"
    ).fetchone()
    return InProgress(str(row[0]), str(row[1]), row[2], int(row[3])) if row else None


def clear_in_progress(db: sqlite_utils.Database) -> None:
    db.execute("DELETE FROM sale_in_progress WHERE id = 1")
