"""Products and their barcodes: import, lookup by code, and search by name or code prefix.

Search is built to stay fast on a million products: barcode and SKU prefixes are index range scans
(``code >= prefix AND code < prefix-successor``) and name words go through the FTS5 table
``products_fts`` with prefix indexes, without ranking the whole match set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils


@dataclass(frozen=True)
class Product:
    """A product as the till sells it. ``price`` is in minor units, ``tax_rate`` a percent string."""

    id: int
    sku: str
    name: str
    price: int
    tax_rate: str
    unit: str
    active: bool
    barcode: str | None = None


@dataclass(frozen=True)
class ProductRow:
    """One validated product to import (see :mod:`pos.services.catalog` for the CSV checks)."""

    line: int
    sku: str
    name: str
    price: int
    tax_rate: str
    unit: str
    barcodes: tuple[str, ...]


class CatalogRefused(ValueError):
    """An import was refused whole. ``problems`` lists (line number, reason) for every bad row."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = sorted(problems)
        shown = "; ".join(f"line {line}: {reason}" for line, reason in self.problems[:20])
        more = f" (and {len(self.problems) - 20} more)" if len(self.problems) > 20 else ""
        super().__init__(f"{len(self.problems)} bad row(s): {shown}{more}")


_PRODUCT_COLUMNS = (
    "p.id, p.sku, p.name, p.price, p.tax_rate, p.unit, p.active,"
    " (SELECT code FROM barcodes b WHERE b.product_id = p.id LIMIT 1)"
)


def _product(row: Sequence[Any]) -> Product:
    return Product(
        id=int(row[0]),
        sku=str(row[1]),
        name=str(row[2]),
        price=int(row[3]),
        tax_rate=str(row[4]),
        unit=str(row[5]),
        active=bool(row[6]),
        barcode=row[7],
    )


def import_products(
    db: sqlite_utils.Database,
    rows: Iterable[ProductRow],
    now: str,
    *,
    problems: list[tuple[int, str]] | None = None,
) -> int:
    """Insert or update products by SKU with their barcodes; return how many rows were imported.

    Call inside one writer transaction. ``rows`` may be a generator that validates as it goes and
    appends (line, reason) to ``problems`` for rows it drops. After staging, duplicate SKUs or
    barcodes within the import and barcodes held by products outside it are added to the problems;
    if there are any, :class:`CatalogRefused` is raised (the transaction then rolls back, so
    nothing is imported). A re-imported product's barcodes are replaced by the ones in the import.
    """
    problems = problems if problems is not None else []
    conn = db.conn
    conn.execute("DROP TABLE IF EXISTS temp.import_products")
    conn.execute("DROP TABLE IF EXISTS temp.import_barcodes")
    conn.execute(
        "CREATE TEMP TABLE import_products (line INTEGER, sku TEXT, name TEXT,"
        " price INTEGER, tax_rate TEXT, unit TEXT)"
    )
    conn.execute("CREATE TEMP TABLE import_barcodes (line INTEGER, code TEXT, sku TEXT)")
    count = 0
    batch: list[ProductRow] = []

    def flush() -> None:
        conn.executemany(
            "INSERT INTO temp.import_products VALUES (?, ?, ?, ?, ?, ?)",
            [(r.line, r.sku, r.name, r.price, r.tax_rate, r.unit) for r in batch],
        )
        conn.executemany(
            "INSERT INTO temp.import_barcodes VALUES (?, ?, ?)",
            [(r.line, code, r.sku) for r in batch for code in r.barcodes],
        )
        batch.clear()

    for row in rows:
        batch.append(row)
        count += 1
        if len(batch) >= 10_000:
            flush()
    flush()
    conn.execute("CREATE INDEX temp.import_products_sku ON import_products(sku, line)")
    conn.execute("CREATE INDEX temp.import_barcodes_code ON import_barcodes(code, line)")
    for line, sku, first in conn.execute(
        "SELECT i.line, i.sku, (SELECT min(line) FROM temp.import_products f WHERE f.sku = i.sku)"
        " FROM temp.import_products i WHERE i.line > (SELECT min(line) FROM temp.import_products f"
        " WHERE f.sku = i.sku) LIMIT 1000"
    ):
        problems.append((int(line), f"SKU {sku} is already on line {first}"))
    for line, code, first in conn.execute(
        "SELECT i.line, i.code, (SELECT min(line) FROM temp.import_barcodes f WHERE f.code = i.code)"
        " FROM temp.import_barcodes i WHERE i.line > (SELECT min(line) FROM temp.import_barcodes f"
        " WHERE f.code = i.code) LIMIT 1000"
    ):
        problems.append((int(line), f"barcode {code} is already on line {first}"))
    for line, code, sku in conn.execute(
        "SELECT i.line, i.code, p.sku FROM temp.import_barcodes i"
        " JOIN barcodes b ON b.code = i.code JOIN products p ON p.id = b.product_id"
        " WHERE p.sku NOT IN (SELECT sku FROM temp.import_products) LIMIT 1000"
    ):
        problems.append((int(line), f"barcode {code} already belongs to product {sku}"))
    if problems:
        raise CatalogRefused(problems)
    conn.execute(
        "INSERT INTO products (sku, name, price, tax_rate, unit, active, updated_at)"
        " SELECT sku, name, price, tax_rate, unit, 1, ? FROM temp.import_products WHERE true"
        " ON CONFLICT(sku) DO UPDATE SET name = excluded.name, price = excluded.price,"
        " tax_rate = excluded.tax_rate, unit = excluded.unit, active = 1, updated_at = excluded.updated_at",
        (now,),
    )
    conn.execute(
        "DELETE FROM barcodes WHERE product_id IN"
        " (SELECT p.id FROM products p JOIN temp.import_products i ON i.sku = p.sku)"
    )
    conn.execute(
        "INSERT INTO barcodes (code, product_id)"
        " SELECT i.code, p.id FROM temp.import_barcodes i JOIN products p ON p.sku = i.sku"
    )
    conn.execute("DROP TABLE temp.import_products")
    conn.execute("DROP TABLE temp.import_barcodes")
    return count


def upsert_product(
    db: sqlite_utils.Database,
    *,
    sku: str,
    name: str,
    price: int,
    tax_rate: str,
    unit: str,
    barcodes: Sequence[str],
    active: bool,
    now: str,
) -> None:
    """Insert or replace one product and its barcodes (the change feed applies products this way)."""
    db.execute(
        "INSERT INTO products (sku, name, price, tax_rate, unit, active, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(sku) DO UPDATE SET name = excluded.name, price = excluded.price,"
        " tax_rate = excluded.tax_rate, unit = excluded.unit, active = excluded.active,"
        " updated_at = excluded.updated_at",
        (sku, name, price, tax_rate, unit, int(active), now),
    )
    product_id = db.execute("SELECT id FROM products WHERE sku = ?", (sku,)).fetchone()[0]
    db.execute("DELETE FROM barcodes WHERE product_id = ?", (product_id,))
    for code in barcodes:
        # A barcode moved from another product follows the newest data.
        db.execute(
            "INSERT INTO barcodes (code, product_id) VALUES (?, ?)"
            " ON CONFLICT(code) DO UPDATE SET product_id = excluded.product_id",
            (code, product_id),
        )


def deactivate_product(db: sqlite_utils.Database, sku: str, now: str) -> None:
    """Stop selling ``sku`` (kept for old receipts and returns)."""
    db.execute("UPDATE products SET active = 0, updated_at = ? WHERE sku = ?", (now, sku))


def by_barcode(db: sqlite_utils.Database, code: str) -> Product | None:
    """The active product carrying barcode ``code`` exactly, or None."""
    row = db.execute(
        "SELECT p.id, p.sku, p.name, p.price, p.tax_rate, p.unit, p.active, bc.code"
        " FROM barcodes bc JOIN products p ON p.id = bc.product_id WHERE bc.code = ? AND p.active",
        (code,),
    ).fetchone()
    return _product(row) if row else None


def by_sku(db: sqlite_utils.Database, sku: str) -> Product | None:
    """The product with this SKU (active or not), or None."""
    row = db.execute(f"SELECT {_PRODUCT_COLUMNS} FROM products p WHERE p.sku = ?", (sku,)).fetchone()
    return _product(row) if row else None


def by_id(db: sqlite_utils.Database, product_id: int) -> Product | None:
    row = db.execute(f"SELECT {_PRODUCT_COLUMNS} FROM products p WHERE p.id = ?", (product_id,)).fetchone()
    return _product(row) if row else None


def count_products(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT count(*) FROM products").fetchone()[0])


def _successor(prefix: str) -> str:
    # The smallest string greater than every string that starts with ``prefix``.
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


_WORD = re.compile(r"\w+", re.UNICODE)


def search(db: sqlite_utils.Database, text: str, limit: int = 20) -> list[Product]:
    """Active products matching ``text``: a barcode or SKU prefix, or every word as a name prefix.

    Results come in a stable order: code/SKU matches first (in code order), then name matches
    (in product order). At most ``limit`` products; empty text finds nothing.
    """
    text = text.strip()
    limit = max(0, min(limit, 500))
    if not text or limit == 0:
        return []
    found: dict[int, Product] = {}
    if " " not in text:
        end = _successor(text)
        for row in db.execute(
            f"SELECT {_PRODUCT_COLUMNS} FROM barcodes bc JOIN products p ON p.id = bc.product_id"
            " WHERE bc.code >= ? AND bc.code < ? AND p.active ORDER BY bc.code LIMIT ?",
            (text, end, limit),
        ):
            found.setdefault(int(row[0]), _product(row))
        if len(found) < limit:
            for row in db.execute(
                f"SELECT {_PRODUCT_COLUMNS} FROM products p"
                " WHERE p.sku >= ? AND p.sku < ? AND p.active ORDER BY p.sku LIMIT ?",
                (text, end, limit),
            ):
                found.setdefault(int(row[0]), _product(row))
    words = _WORD.findall(text)
    if words and len(found) < limit and not text.isdigit():
        query = " ".join('"' + w.replace('"', '""') + '"*' for w in words)
        for row in db.execute(
            f"SELECT {_PRODUCT_COLUMNS} FROM products_fts f JOIN products p ON p.id = f.rowid"
            " WHERE products_fts MATCH ? AND p.active LIMIT ?",
            (query, limit),
        ):
            found.setdefault(int(row[0]), _product(row))
    return list(found.values())[:limit]
