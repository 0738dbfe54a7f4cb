"""What the terminal can tell about itself: status, ledger verification, exports.

:func:`verify_ledger` and :func:`export_rows` open the ledger file READ-ONLY (no migration, no
backup, no writer), so they work on a copy, on a damaged file, and while the app is running.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pos.ledger import catalog, journal, state
from pos.ledger import sales as sales_ledger
from pos.ledger import staff as staff_ledger
from pos.ledger.db import LEDGER_FILE, newest_backup, quick_check
from pos.services.sale import last_sale_outcome
from pos.services.terminal import Terminal


@dataclass(frozen=True)
class TerminalStatus:
    """Everything ``pos status`` prints."""

    terminal_id: int
    terminal_code: str
    enrolled: bool
    store_code: str
    store_name: str
    data_dir: str
    sqlite_version: str
    products: int
    staff: int
    sales: int
    journal_head_seq: int
    journal_head_hash: str
    acknowledged_seq: int
    queued_events: int
    last_sync: str | None
    last_sync_error: str | None
    last_sale: str | None
    secrets: str
    newest_backup: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[tuple[str, str]]:
        return [
            (
                "Terminal",
                f"{self.terminal_code} (id {self.terminal_id}, {'enrolled' if self.enrolled else 'standalone'})",
            ),
            ("Store", f"{self.store_code} {self.store_name}"),
            ("Data dir", self.data_dir),
            ("SQLite", self.sqlite_version),
            ("Catalog", f"{self.products} products"),
            ("Staff", str(self.staff)),
            ("Sales", str(self.sales)),
            ("Journal head", f"seq {self.journal_head_seq} {self.journal_head_hash[:16]}"),
            (
                "Queued events",
                f"{self.queued_events} (server acknowledged up to seq {self.acknowledged_seq})",
            ),
            ("Last sync", self.last_sync or "never"),
            *([("Last sync error", self.last_sync_error)] if self.last_sync_error else []),
            ("Last sale", self.last_sale or "none yet"),
            ("Secrets", self.secrets),
            ("Newest backup", self.newest_backup or "none yet"),
        ]


def terminal_status(terminal: Terminal) -> TerminalStatus:
    """The terminal's status now (no network)."""
    db = terminal.ledger.read()
    seq, digest = journal.head(db)
    sync = state.sync_state(db)
    last_sync, last_error = sync.last_sync_at, sync.last_error
    try:
        # The sync engine keeps a richer status; use it when that part is installed.
        from pos.services.syncing import current_status

        saved = current_status(terminal)
        last_sync = saved.last_success_at or last_sync
        last_error = saved.last_error or last_error
    except ImportError:
        pass
    outcome = last_sale_outcome(terminal)
    backup = newest_backup(terminal.data_dir)
    return TerminalStatus(
        terminal_id=terminal.config.terminal_id,
        terminal_code=terminal.config.terminal_code,
        enrolled=terminal.config.enrolled,
        store_code=terminal.settings.store_code,
        store_name=terminal.settings.store_name,
        data_dir=str(terminal.data_dir),
        sqlite_version=sqlite3.sqlite_version,
        products=catalog.count_products(db),
        staff=staff_ledger.count(db),
        sales=sales_ledger.count(db),
        journal_head_seq=seq,
        journal_head_hash=digest,
        acknowledged_seq=sync.acked_seq,
        queued_events=state.queued_events(db),
        last_sync=last_sync,
        last_sync_error=last_error,
        last_sale=outcome.message if outcome else None,
        secrets=terminal.secrets.where,
        newest_backup=str(backup) if backup else None,
    )


def open_read_only(data_dir: Path) -> sqlite3.Connection:
    """A read-only connection to the ledger in ``data_dir``; FileNotFoundError if there is none."""
    path = Path(data_dir) / LEDGER_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no ledger at {path}")
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


@dataclass(frozen=True)
class LedgerVerification:
    ok: bool
    problem: str | None
    lines: list[str]


def verify_ledger(data_dir: Path) -> LedgerVerification:
    """Integrity check of the file plus the journal chain and its anchors (see journal.verify)."""
    try:
        conn = open_read_only(data_dir)
    except FileNotFoundError as exc:
        return LedgerVerification(False, str(exc), [])
    try:
        try:
            problems = quick_check(conn)
        except sqlite3.DatabaseError as exc:
            problems = [str(exc)]
        if problems:
            backup = newest_backup(Path(data_dir))
            hint = f"; newest backup: {backup}" if backup else "; no backup found"
            return LedgerVerification(False, f"the file failed its integrity check: {problems[0]}{hint}", [])
        result = journal.verify(conn)
    finally:
        conn.close()
    lines = [
        f"Journal: {result.entries} entries verified, head seq {result.head_seq} {result.head_hash[:16]}"
    ]
    if result.problem is not None:
        return LedgerVerification(False, str(result.problem), lines)
    return LedgerVerification(True, None, lines)


JOURNAL_COLUMNS = ["seq", "event_id", "type", "schema_version", "occurred_at", "payload", "prev_hash", "hash"]
SALE_COLUMNS = [
    "receipt_no",
    "sale_id",
    "kind",
    "completed_at",
    "currency",
    "total",
    "line_no",
    "sku",
    "name",
    "unit",
    "quantity_milli",
    "unit_price",
    "discount",
    "line_total",
    "tax_rate",
    "journal_seq",
]


def export_rows(data_dir: Path, what: str) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """Columns and a stream of rows: ``journal`` entries (payload as an object) or ``sales`` lines."""
    conn = open_read_only(data_dir)

    def journal_rows() -> Iterator[dict[str, Any]]:
        try:
            for row in conn.execute(f"SELECT {', '.join(JOURNAL_COLUMNS)} FROM journal ORDER BY seq"):
                item = dict(zip(JOURNAL_COLUMNS, row, strict=True))
                item["payload"] = json.loads(item["payload"])
                yield item
        finally:
            conn.close()

    def sale_rows() -> Iterator[dict[str, Any]]:
        try:
            for row in conn.execute(
                "SELECT s.receipt_no, s.id, s.kind, s.completed_at, s.currency, s.total, l.line_no, l.sku,"
                " l.name, l.unit, l.quantity_milli, l.unit_price, l.discount, l.total, l.tax_rate,"
                " s.journal_seq FROM sales s JOIN sale_lines l ON l.sale_id = s.id"
                " ORDER BY s.receipt_seq, l.line_no"
            ):
                yield dict(zip(SALE_COLUMNS, row, strict=True))
        finally:
            conn.close()

    if what == "journal":
        return JOURNAL_COLUMNS, journal_rows()
    if what == "sales":
        return SALE_COLUMNS, sale_rows()
    conn.close()
    raise ValueError(f"nothing to export called {what!r}: use journal or sales")
