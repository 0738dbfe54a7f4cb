"""Catalog and stock imports from CSV (docs/central.md).

Catalog CSV: a header row with at least ``sku,name,price,tax_rate,barcodes,unit``, separated by
commas, semicolons or tabs (found from the header); ``price`` in major units with a dot, or a
decimal comma when every store's locale writes one (``12,99`` for de_DE), ``tax_rate`` in percent,
``barcodes`` space-separated, ``unit`` ``piece`` or ``kg``; an optional ``active`` column
(``yes``/``no``). Stock CSV: ``sku,on_hand`` with on-hand in pieces or kilograms. A file with any bad row is refused whole: :class:`ImportRefused` lists every
bad row's line number and reason, and nothing is changed.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision
from biip import ParseError
from biip.gtin import Gtin
from sqlalchemy import Connection, insert, select, update

from sync.csvfile import decimal_text, delimiter_name, detect_delimiter, uses_decimal_comma
from sync.protocol import ChangeKind
from sync.server import schema
from sync.server.changes import (
    NewChange,
    append_to_update,
    bulk_insert,
    finish_update,
    new_update_id,
    record_standalone,
)
from sync.server.stores import InputError, find_store

CATALOG_COLUMNS = ("sku", "name", "price", "tax_rate", "barcodes", "unit")
STOCK_COLUMNS = ("sku", "on_hand")
_TAX_RATE = re.compile(r"^\d{1,2}(\.\d{1,3})?$")
_SKU = re.compile(r"^[^\s,]{1,64}$")
_BARCODE = re.compile(r"^[0-9A-Za-z]{1,64}$")
_CHUNK = 2000


class ImportRefused(InputError):
    """The file was refused whole; ``problems`` holds one ``line N: reason`` per bad row."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:200]
        more = f"\n... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        super().__init__("the file was refused, nothing was imported:\n" + "\n".join(shown) + more)
        self.problems = problems


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)


def _rows(text: str, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    text = text.lstrip("\ufeff")
    delimiter = detect_delimiter(text.split("\n", 1)[0], required)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise ImportRefused(
            [
                f"line 1: the header lacks the column(s) {', '.join(missing)} (needs "
                f"{','.join(required)}, separated by commas, semicolons or tabs; read with "
                f"{delimiter_name(delimiter)}: {', '.join(header[:8])[:120]})"
            ]
        )
    reader.fieldnames = header
    for row in reader:
        if None in row:
            yield reader.line_num, {"__extra__": "yes"}
            continue
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}


def parse_money(text: str, digits: int) -> int:
    """Major units with a dot (``12.99``) as minor units; raises ValueError with the reason."""
    if not re.fullmatch(r"\d+(\.\d+)?", text):
        raise ValueError(f"price {text!r} is not a number like 12.99")
    value = Decimal(text)
    scaled = value.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"price {text!r} has more than {digits} decimals")
    return int(scaled)


def _check_barcode(code: str) -> str | None:
    if not _BARCODE.match(code):
        return f"barcode {code!r} has characters other than letters and digits"
    if code.isdigit() and len(code) in (8, 12, 13, 14):
        try:
            Gtin.parse(code)
        except ParseError as exc:
            return f"barcode {code!r}: {exc}"
    return None


@dataclass(frozen=True)
class Numbers:
    """How the file writes numbers: a decimal comma is read where every store's locale uses one."""

    comma: bool = False
    locale: str = "en"

    def text(self, value: str, column: str) -> str:
        return decimal_text(value, comma=self.comma, column=column, locale=self.locale)


def chain_numbers(conn: Connection, store_code: str | None = None) -> Numbers:
    """:class:`Numbers` for the stores the file is for (one store, or all of them)."""
    query = select(schema.stores.c.locale)
    if store_code is not None:
        query = query.where(schema.stores.c.code == store_code)
    locales = sorted(set(conn.execute(query).scalars()))
    if not locales:
        return Numbers()
    return Numbers(all(uses_decimal_comma(loc) for loc in locales), "/".join(locales))


def chain_currency(conn: Connection, given: str | None) -> str:
    """The currency catalog prices are in: ``given``, else the one all stores use."""
    if given:
        return given.strip().upper()
    found = sorted(set(conn.execute(select(schema.stores.c.currency)).scalars()))
    if len(found) == 1:
        return str(found[0])
    if not found:
        raise InputError("add a store first, or give --currency, so prices can be read")
    raise InputError(f"stores use several currencies ({', '.join(found)}): give --currency")


def _catalog_rows(
    text: str, digits: int, numbers: Numbers
) -> Iterator[tuple[int, dict[str, Any] | None, list[str]]]:
    """Each data row as (line, product or None, reasons it is bad); duplicates not checked here."""
    for line, row in _rows(text, CATALOG_COLUMNS):
        if "__extra__" in row:
            yield line, None, ["more fields than the header has columns"]
            continue
        reasons = []
        sku = row["sku"]
        if not _SKU.match(sku):
            reasons.append("sku is empty, longer than 64 characters, or has spaces or commas")
        name = row["name"]
        if not name or len(name) > 200:
            reasons.append("name is empty or longer than 200 characters")
        price = 0
        try:
            price = parse_money(numbers.text(row["price"], "price"), digits)
        except ValueError as exc:
            reasons.append(str(exc))
        rate_read = True
        try:
            rate = numbers.text(row["tax_rate"].removesuffix("%"), "tax_rate")
        except ValueError as exc:
            reasons.append(str(exc))
            rate, rate_read = "", False
        if rate_read and not _TAX_RATE.match(rate):
            reasons.append(f"tax_rate {row['tax_rate']!r} is not a percentage like 19 or 7.5")
        unit = row["unit"].lower()
        if unit not in ("piece", "kg"):
            reasons.append(f"unit {row['unit']!r} is not 'piece' or 'kg'")
        barcodes = row["barcodes"].split()
        reasons.extend(r for r in map(_check_barcode, barcodes) if r)
        if reasons:
            yield line, None, reasons
            continue
        yield (
            line,
            {
                "sku": sku,
                "name": name,
                "price": price,
                "tax_rate": _normal_rate(rate),
                "unit": unit,
                "barcodes": " ".join(barcodes),
                "active": row.get("active", "").lower() not in ("no", "false", "0"),
            },
            [],
        )


def import_catalog(
    conn: Connection, text: str, *, now: datetime, currency: str | None = None
) -> ImportResult:
    """Add or update the products in a catalog CSV, and send the changes to every store as one update.

    Two passes over the text: the first checks every row (nothing is written if any is bad), the
    second writes in chunks, so memory does not grow with the catalog's size.
    """
    digits = get_currency_precision(chain_currency(conn, currency))
    numbers = chain_numbers(conn)
    problems: list[str] = []
    first_line: dict[str, int] = {}
    rates: set[str] = set()
    for line, product, reasons in _catalog_rows(text, digits, numbers):
        if product is not None and product["sku"] in first_line:
            reasons = [f"sku {product['sku']!r} already appears on line {first_line[product['sku']]}"]
        if reasons:
            problems.append(f"line {line}: " + "; ".join(reasons))
        elif product is not None:
            first_line[product["sku"]] = line
            rates.add(product["tax_rate"])
    if problems:
        raise ImportRefused(problems)
    if not first_line:
        raise ImportRefused(["line 2: the file has no products"])
    del first_line

    result = ImportResult()
    update_id = new_update_id()
    known_rates = set(conn.execute(select(schema.tax_rates.c.code)).scalars())
    fresh_rates = sorted(rates - known_rates)
    for rate in fresh_rates:
        conn.execute(insert(schema.tax_rates).values(code=rate, rate=rate))
    append_to_update(
        conn,
        update_id,
        [NewChange(ChangeKind.TAX_RATE, rate, {"rate": rate}) for rate in fresh_rates],
        now=now,
    )
    chunk: list[dict[str, Any]] = []
    for _line, product, _reasons in _catalog_rows(text, digits, numbers):
        assert product is not None  # the first pass refused the file otherwise
        chunk.append(product)
        if len(chunk) == _CHUNK:
            _write_products(conn, chunk, update_id, result, now)
            chunk = []
    _write_products(conn, chunk, update_id, result, now)
    finish_update(conn, update_id)
    return result


def _write_products(
    conn: Connection, chunk: list[dict[str, Any]], update_id: str, result: ImportResult, now: datetime
) -> None:
    if not chunk:
        return
    table = schema.products
    fields = ("name", "price", "tax_rate", "unit", "barcodes", "active")
    existing = {
        r.sku: r for r in conn.execute(select(table).where(table.c.sku.in_([p["sku"] for p in chunk])))
    }
    new_rows = []
    changed = []
    for product in chunk:
        old = existing.get(product["sku"])
        if old is None:
            new_rows.append({**product, "updated_at": now})
            result.added += 1
        elif any(getattr(old, f) != product[f] for f in fields):
            conn.execute(update(table).where(table.c.sku == product["sku"]).values(**product, updated_at=now))
            result.updated += 1
        else:
            result.unchanged += 1
            continue
        changed.append(NewChange(ChangeKind.PRODUCT, product["sku"], product_data(product)))
    bulk_insert(conn, table, new_rows)
    append_to_update(conn, update_id, changed, now=now)


def _normal_rate(rate: str) -> str:
    return format(Decimal(rate).normalize(), "f")


def product_data(product: dict[str, Any]) -> dict[str, Any]:
    """A product as the change feed carries it."""
    return {
        "name": product["name"],
        "price": product["price"],
        "tax_rate": product["tax_rate"],
        "unit": product["unit"],
        "barcodes": product["barcodes"].split(),
        "active": product["active"],
    }


def import_stock(conn: Connection, text: str, *, store_code: str, now: datetime) -> ImportResult:
    """Set the on-hand figures of one store from a ``sku,on_hand`` CSV (a stock count)."""
    store = find_store(conn, store_code)
    numbers = chain_numbers(conn, store.code)
    problems: list[str] = []
    counts: dict[str, int] = {}
    lines: dict[str, int] = {}
    for line, row in _rows(text, STOCK_COLUMNS):
        if "__extra__" in row:
            problems.append(f"line {line}: more fields than the header has columns")
            continue
        sku = row["sku"]
        try:
            amount = Decimal(numbers.text(row["on_hand"], "on_hand"))
            if not amount.is_finite():
                raise InvalidOperation
            milli = amount.scaleb(3)
            if milli != milli.to_integral_value():
                raise ValueError(f"on_hand {row['on_hand']!r} is finer than a thousandth")
            counts_value = int(milli)
        except (InvalidOperation, ValueError) as exc:
            reason = (
                str(exc)
                if isinstance(exc, ValueError) and str(exc)
                else f"on_hand {row['on_hand']!r} is not a number"
            )
            problems.append(f"line {line}: {reason}")
            continue
        if sku in lines:
            problems.append(f"line {line}: sku {sku!r} already appears on line {lines[sku]}")
            continue
        lines[sku] = line
        counts[sku] = counts_value
    skus = list(counts)
    known: set[str] = set()
    for start in range(0, len(skus), _CHUNK):
        chunk = skus[start : start + _CHUNK]
        known.update(
            conn.execute(select(schema.products.c.sku).where(schema.products.c.sku.in_(chunk))).scalars()
        )
    problems.extend(f"line {lines[s]}: sku {s!r} is not in the catalog" for s in skus if s not in known)
    if problems:
        problems.sort(key=lambda p: int(p.split(":")[0].split()[1]))
        raise ImportRefused(problems)
    result = ImportResult()
    table = schema.stock
    changed: list[str] = []
    for start in range(0, len(skus), _CHUNK):
        chunk = skus[start : start + _CHUNK]
        existing = {
            r.sku: r.on_hand_milli
            for r in conn.execute(select(table).where(table.c.store_id == store.id, table.c.sku.in_(chunk)))
        }
        movements = []
        for sku in chunk:
            old = existing.get(sku)
            if old is None:
                conn.execute(
                    insert(table).values(
                        store_id=store.id, sku=sku, on_hand_milli=counts[sku], updated_at=now
                    )
                )
                result.added += 1
            elif old != counts[sku]:
                conn.execute(
                    update(table)
                    .where(table.c.store_id == store.id, table.c.sku == sku)
                    .values(on_hand_milli=counts[sku], updated_at=now)
                )
                result.updated += 1
            else:
                result.unchanged += 1
                continue
            changed.append(sku)
            movements.append(
                {
                    "store_id": store.id,
                    "sku": sku,
                    "delta_milli": counts[sku] - (old or 0),
                    "reason": "count",
                    "at": now,
                }
            )
        if movements:
            conn.execute(insert(schema.stock_movements), movements)
    record_standalone(
        conn,
        [NewChange(ChangeKind.STOCK, sku, {"on_hand_milli": counts[sku]}, store.id) for sku in changed],
        now=now,
    )
    return result
