"""Small helpers for the ledger, services, CLI and crash tests: a real terminal on a real file."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pos.services import sale, shift, staff
from pos.services.catalog import import_catalog
from pos.services.terminal import Terminal, open_terminal

os.environ.setdefault("STORELINK_SECRETS", "file")

ROOT = Path(__file__).resolve().parent.parent
DEMO_CATALOG = ROOT / "resources" / "demo" / "catalog.csv"
CASHIER_PIN = "1234"
MANAGER_PIN = "9876"

SMALL_CATALOG = """sku,name,price,tax_rate,barcodes,unit
A1,Apple juice 1 l,1.99,7,4006381333931,piece
B2,Bananas,2.49,7,,kg
C3,Coffee mug,9.90,19,5012345678900 96385074,piece
D4,Dark chocolate 100 g,1.29,7,4000417025005,piece
"""


class SteppingClock:
    """A clock that moves one millisecond per reading, from a fixed start (tests read no wall clock)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def new_terminal(data_dir: Path, *, clock: SteppingClock | None = None) -> Terminal:
    return open_terminal(data_dir, clock=clock or SteppingClock(), secrets_backend="file")


def ready_terminal(data_dir: Path, *, clock: SteppingClock | None = None) -> Terminal:
    """A terminal with the small catalog, a cashier and a manager, the cashier signed in, a shift open."""
    terminal = new_terminal(data_dir, clock=clock)
    csv_path = data_dir / "small.csv"
    csv_path.write_text(SMALL_CATALOG, encoding="utf-8")
    import_catalog(terminal, csv_path)
    staff.add_staff(terminal, name="Mia Manager", role="manager", pin=MANAGER_PIN)
    staff.add_staff(terminal, name="Carl Cashier", role="cashier", pin=CASHIER_PIN)
    staff.sign_in(terminal, CASHIER_PIN)
    shift.open_shift(terminal, 10_000)
    return terminal


def quick_sale(terminal: Terminal, barcode: str = "4006381333931") -> sale.CompletedSale:
    s = sale.start_sale(terminal)
    sale.scan(terminal, s, barcode)
    sale.tender_cash(terminal, s)
    return sale.complete_sale(terminal, s)


def table_digest(path: Path) -> dict[str, tuple[int, str]]:
    """Row count and a content hash of every table: 'data unchanged' means equal digests."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " AND name NOT LIKE 'products_fts%' ORDER BY name"
            )
        ]
        result: dict[str, tuple[int, str]] = {}
        for name in names:
            digest = hashlib.sha256()
            count = 0
            for row in conn.execute(f'SELECT * FROM "{name}" ORDER BY 1'):
                digest.update(repr(row).encode())
                count += 1
            result[name] = (count, digest.hexdigest())
        return result
    finally:
        conn.close()


@contextmanager
def raw_connection(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain writable connection, as an attacker or a broken tool would use on the file."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()
