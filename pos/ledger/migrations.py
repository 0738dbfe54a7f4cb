"""Registered schema migrations for the ledger.

sqlite-utils has no migration runner, so this is a small one: each migration is a function
registered under a stable name, applied once, in order, inside its own transaction, and recorded
in the ``_migrations`` table. A migration never changes after it shipped; a fix is a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime

import sqlite_utils

Migration = Callable[[sqlite_utils.Database], None]

#: name -> function, in the order they apply.
REGISTRY: dict[str, Migration] = {}


def migration(name: str) -> Callable[[Migration], Migration]:
    """Register ``fn`` as the migration called ``name`` (names are applied in registration order)."""

    def register(fn: Migration) -> Migration:
        if name in REGISTRY:
            raise ValueError(f"migration {name!r} registered twice")
        REGISTRY[name] = fn
        return fn

    return register


def _ensure_table(db: sqlite_utils.Database) -> None:
    if not db["_migrations"].exists():
        db["_migrations"].create({"name": str, "applied_at": str}, pk="name")  # type: ignore[union-attr]


def applied(db: sqlite_utils.Database) -> list[str]:
    """Names of the migrations already applied to ``db``, oldest first."""
    if not db["_migrations"].exists():
        return []
    return [row["name"] for row in db.query("SELECT name FROM _migrations ORDER BY rowid")]


def pending(db: sqlite_utils.Database) -> list[str]:
    """Names of registered migrations not yet applied to ``db``."""
    done = set(applied(db))
    return [name for name in REGISTRY if name not in done]


def migrate(db: sqlite_utils.Database, now: datetime) -> list[str]:
    """Apply every pending migration, each in its own transaction; return the names applied."""
    with db.atomic():
        _ensure_table(db)
    done: list[str] = []
    for name in pending(db):
        with db.atomic():
            REGISTRY[name](db)
            db["_migrations"].insert({"name": name, "applied_at": now.isoformat()})  # type: ignore[union-attr]
        done.append(name)
    return done


def _run(db: sqlite_utils.Database, statements: str) -> None:
    # executescript() would commit the open transaction, so statements run one by one;
    # complete_statement() knows a trigger body's inner semicolons do not end it.
    buffer = ""
    for line in statements.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            db.execute(buffer)
            buffer = ""
    if buffer.strip():
        db.execute(buffer)


@migration("0001_initial")
def _initial(db: sqlite_utils.Database) -> None:
    _run(
        db,
        """
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    price INTEGER NOT NULL CHECK (price >= 0),
    tax_rate TEXT NOT NULL,
    unit TEXT NOT NULL CHECK (unit IN ('piece', 'kg')),
    active INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL
);
CREATE TABLE barcodes (
    code TEXT PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX barcodes_product ON barcodes(product_id);
CREATE VIRTUAL TABLE products_fts USING fts5(
    name, content='products', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2', prefix='1 2 3'
);
CREATE TRIGGER products_fts_ai AFTER INSERT ON products BEGIN
    INSERT INTO products_fts(rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER products_fts_ad AFTER DELETE ON products BEGIN
    INSERT INTO products_fts(products_fts, rowid, name) VALUES ('delete', old.id, old.name);
END;
CREATE TRIGGER products_fts_au AFTER UPDATE OF name ON products BEGIN
    INSERT INTO products_fts(products_fts, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO products_fts(rowid, name) VALUES (new.id, new.name);
END;
CREATE TABLE stock (
    sku TEXT PRIMARY KEY,
    on_hand_milli INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE staff (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('cashier', 'manager')),
    pin_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL
);
CREATE TABLE pin_lockout (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    failed INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT
);
INSERT INTO pin_lockout (id, failed) VALUES (1, 0);
CREATE TABLE pin_attempts (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    purpose TEXT NOT NULL,
    staff_id TEXT,
    ok INTEGER NOT NULL,
    locked_until TEXT
);
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE journal_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO journal_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE TRIGGER journal_append_only_seq BEFORE INSERT ON journal
WHEN NEW.seq != (SELECT seq + 1 FROM journal_head WHERE id = 1)
  OR NEW.prev_hash != (SELECT hash FROM journal_head WHERE id = 1)
BEGIN
    SELECT RAISE(ABORT, 'journal entries are appended in sequence onto the chain head');
END;
CREATE TRIGGER journal_head_follows AFTER INSERT ON journal BEGIN
    UPDATE journal_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
END;
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal BEGIN
    SELECT RAISE(ABORT, 'journal entries are never changed');
END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal BEGIN
    SELECT RAISE(ABORT, 'journal entries are never deleted');
END;
CREATE TRIGGER journal_head_never_back BEFORE UPDATE ON journal_head
WHEN NEW.seq < OLD.seq
BEGIN
    SELECT RAISE(ABORT, 'the journal head never moves back');
END;
CREATE TABLE sync_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    acked_seq INTEGER NOT NULL DEFAULT 0,
    acked_hash TEXT,
    feed_cursor TEXT,
    last_sync_at TEXT,
    last_error TEXT
);
INSERT INTO sync_state (id, acked_seq) VALUES (1, 0);
CREATE TABLE shifts (
    id TEXT PRIMARY KEY,
    opened_by TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    opening_float INTEGER NOT NULL CHECK (opening_float >= 0),
    closed_at TEXT,
    closed_by TEXT,
    approved_by TEXT,
    counted_cash INTEGER,
    expected_cash INTEGER
);
CREATE UNIQUE INDEX shifts_one_open ON shifts((closed_at IS NULL)) WHERE closed_at IS NULL;
CREATE TABLE cash_movements (
    id TEXT PRIMARY KEY,
    shift_id TEXT NOT NULL REFERENCES shifts(id),
    kind TEXT NOT NULL CHECK (kind IN ('in', 'out')),
    amount INTEGER NOT NULL CHECK (amount > 0),
    reason TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    approved_by TEXT,
    at TEXT NOT NULL,
    journal_seq INTEGER NOT NULL REFERENCES journal(seq)
);
CREATE TABLE sales (
    id TEXT PRIMARY KEY,
    receipt_seq INTEGER NOT NULL UNIQUE,
    receipt_no TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('sale', 'return', 'training')),
    shift_id TEXT REFERENCES shifts(id),
    cashier_id TEXT,
    approved_by TEXT,
    member_id INTEGER,
    currency TEXT NOT NULL,
    tax_mode TEXT NOT NULL,
    total INTEGER NOT NULL,
    sale_discount INTEGER NOT NULL DEFAULT 0,
    rounding INTEGER NOT NULL DEFAULT 0,
    change INTEGER NOT NULL DEFAULT 0,
    claim_code TEXT UNIQUE,
    original_sale_id TEXT REFERENCES sales(id),
    completed_at TEXT NOT NULL,
    journal_seq INTEGER NOT NULL UNIQUE REFERENCES journal(seq)
);
CREATE INDEX sales_original ON sales(original_sale_id) WHERE original_sale_id IS NOT NULL;
CREATE TABLE sale_lines (
    sale_id TEXT NOT NULL REFERENCES sales(id),
    line_no INTEGER NOT NULL,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    unit TEXT NOT NULL,
    quantity_milli INTEGER NOT NULL,
    unit_price INTEGER NOT NULL,
    discount INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL,
    tax_rate TEXT NOT NULL,
    barcode TEXT,
    original_line_no INTEGER,
    PRIMARY KEY (sale_id, line_no)
) WITHOUT ROWID;
CREATE TABLE sale_tenders (
    sale_id TEXT NOT NULL REFERENCES sales(id),
    n INTEGER NOT NULL,
    kind TEXT NOT NULL,
    amount INTEGER NOT NULL,
    tendered INTEGER,
    reference TEXT,
    PRIMARY KEY (sale_id, n)
) WITHOUT ROWID;
CREATE TABLE sale_in_progress (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sale_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    cashier_id TEXT,
    total INTEGER NOT NULL
);
CREATE TABLE feed_staging (
    update_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT,
    PRIMARY KEY (update_id, seq)
)
""",
    )
